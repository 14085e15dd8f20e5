// Notebook display helpers for the tslab kernel. Safe to import anywhere: outside a kernel they print plain text to
// the console instead (Markdown for tables, a one-line note for figures).
//
//   showTable(stats, { better: { 'NDCG@10': 'higher' } });   // HTML table, best bold / second underlined
//   await showFigure(fig);                                    // inline figure (see FigureMode)
//   showMarkdown('## Results');
//
// Figure modes (stack notes "Plotly"):
//   'svg' (default): the figure is rendered to a static SVG by headless Chromium (one browser per kernel, closed
//       after 30 s idle) and shown as image/svg+xml: a few kB per figure, shows in untrusted/headless-executed
//       notebooks and on GitHub, looks exactly like the exported file. Falls back to 'interactive' without Chromium.
//   'interactive': Plotly in the page (hover, zoom). The ~5 MB plotly bundle is put into the notebook once per kernel,
//       so the saved notebook grows by ~5 MB; the figures show only in a trusted notebook (`jupyter trust`).
// Switch with setFigureMode('interactive'), showFigure(fig, { mode: 'interactive' }), or env R2EC_FIGURE_MODE.
import { readFileSync } from 'node:fs';
import { R2ecError } from '../util/errors';
import { envChoice } from '../util/env';
import { ChromiumUnavailable, openRenderer, plotlyBundlePath, type FigureRenderer } from './export';
import type { Figure } from './figures';
import { toHtml, toMarkdown, type Row, type TableLike, type TableOptions } from './table';

export type FigureMode = 'svg' | 'interactive';
export const FIGURE_MODES: FigureMode[] = ['svg', 'interactive'];

/** The subset of tslab's `display` we use. */
interface Display {
  html(s: string): void;
  markdown(s: string): void;
  svg(s: string): void;
}

/** tslab's display when running inside a tslab kernel, else undefined. */
export function kernelDisplay(): Display | undefined {
  // tslab sets globalThis.__tslab__ in its kernel; checking it first avoids loading tslab (and its TypeScript) in
  // plain Node, where tslab's display would throw "Not ready".
  if ((globalThis as { __tslab__?: unknown }).__tslab__ === undefined) return undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('tslab') as { display: Display }).display;
  } catch {
    return undefined;
  }
}

export function inKernel(): boolean {
  return kernelDisplay() !== undefined;
}

/** Show rows or an arquero table (HTML in a kernel, Markdown on the console). Default maxRows 50. */
export function showTable(input: Row[] | TableLike, opts: TableOptions & { maxRows?: number } = {}): void {
  const d = kernelDisplay();
  const maxRows = opts.maxRows ?? 50;
  if (d) {
    d.html(toHtml(input, { ...opts, maxRows }));
    return;
  }
  const rows = Array.isArray(input) ? input : (input.objects() as Row[]);
  const shown = rows.length > maxRows ? rows.slice(0, maxRows) : rows;
  const columns = opts.columns ?? (Array.isArray(input) ? undefined : input.columnNames());
  console.log(toMarkdown(shown, { ...opts, columns }) + (rows.length > maxRows ? `… ${rows.length - maxRows} more rows\n` : ''));
}

export function showMarkdown(text: string): void {
  const d = kernelDisplay();
  if (d) d.markdown(text);
  else console.log(text);
}

let figureMode: FigureMode | undefined;

/** Set the default figure mode for this kernel (see the header comment). */
export function setFigureMode(mode: FigureMode): void {
  if (mode !== 'svg' && mode !== 'interactive') throw new R2ecError(`figure mode must be "svg" or "interactive", got "${mode}"`);
  figureMode = mode;
}

export function currentFigureMode(): FigureMode {
  if (figureMode) return figureMode;
  return envChoice('R2EC_FIGURE_MODE', FIGURE_MODES) ?? 'svg';
}

// One renderer per kernel, opened on first use and closed after 30 s without figures.
let shared: Promise<FigureRenderer> | undefined;
let idleTimer: NodeJS.Timeout | undefined;
const IDLE_MS = 30_000;

async function sharedRenderer(): Promise<FigureRenderer> {
  if (idleTimer) clearTimeout(idleTimer);
  if (!shared) {
    shared = openRenderer();
    shared.catch(() => (shared = undefined));
  }
  const r = await shared;
  idleTimer = setTimeout(() => void closeFigureRenderer(), IDLE_MS);
  idleTimer.unref();
  return r;
}

/** Close the kernel's figure browser now (it also closes itself after 30 s idle). */
export async function closeFigureRenderer(): Promise<void> {
  if (idleTimer) clearTimeout(idleTimer);
  const r = shared;
  shared = undefined;
  if (r) await (await r).close().catch(() => undefined);
}

const g = globalThis as { __r2ecPlotlyInjected?: boolean };

/** Put the plotly bundle into the notebook (once per kernel; `force` to do it again, e.g. after clearing outputs). */
export function injectPlotly(force = false): void {
  const d = kernelDisplay();
  if (!d || (g.__r2ecPlotlyInjected && !force)) return;
  const bundle = readFileSync(plotlyBundlePath(), 'utf8').replace(/<\/script/gi, '<\\/script');
  d.html(`<script type="text/javascript">${bundle}</script>`);
  g.__r2ecPlotlyInjected = true;
}

let figureCount = 0;

/** Show a figure inline (mode: see the header comment). Outside a kernel, prints a one-line note. */
export async function showFigure(figure: Figure, opts: { mode?: FigureMode } = {}): Promise<void> {
  const d = kernelDisplay();
  const title = (figure.layout.title as { text?: string } | undefined)?.text ?? 'untitled';
  if (!d) {
    console.log(`[figure "${title}": ${figure.data.length} trace(s); shown only in a notebook]`);
    return;
  }
  let mode = opts.mode ?? currentFigureMode();
  if (mode === 'svg') {
    try {
      d.svg(await (await sharedRenderer()).svg(figure));
      return;
    } catch (e) {
      if (!(e instanceof ChromiumUnavailable)) throw e;
      console.warn(`r2ec: ${e.message}; showing the figure in interactive mode instead`);
      mode = 'interactive';
    }
  }
  injectPlotly();
  const id = `r2ec-fig-${process.pid}-${++figureCount}-${Date.now().toString(36)}`;
  const json = JSON.stringify({ data: figure.data, layout: figure.layout }).replace(/<\//g, '<\\/');
  // The bundle's output cell may still be loading when this one runs: poll for window.Plotly (give up after 10 s).
  d.html(
    `<div id="${id}"></div><script type="text/javascript">(function(){var f=${json},n=0;` +
      `(function draw(){var P=window.Plotly,el=document.getElementById("${id}");if(!el)return;` +
      `if(P){P.newPlot(el,f.data,f.layout,{displaylogo:false});}` +
      `else if(n++<200){setTimeout(draw,50);}else{el.textContent="plotly bundle not loaded: run injectPlotly(true)";}})();})();</script>`,
  );
}
