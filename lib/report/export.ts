// Static SVG/PNG export of Plotly figure specs through headless Debian Chromium driven by playwright-core
// (stack notes "Plotly"): one browser and one page per batch, the plotly bundle loaded once, then
// Plotly.newPlot + Plotly.toImage per figure (~40 ms SVG, ~100 ms PNG after a 2–4 s launch).
//
//   const { written, skipped } = await exportFigures([{ name: 'history-length', figure: fig }], 'results/00-data');
//   if (skipped) console.log(skipped); // no Chromium: tables are still written by the caller
//
// Chromium: /usr/bin/chromium, or env R2EC_CHROMIUM, or opts.chromium. A missing or unstartable Chromium is not an
// exception: exportFigures returns { written: [], skipped: '<why and how to fix>' } and logs it once.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { R2ecError } from '../util/errors';
import { envValue } from '../util/env';
import { DEFAULT_HEIGHT, DEFAULT_WIDTH, type Figure } from './figures';

export type ImageFormat = 'svg' | 'png';

export interface RenderOptions {
  /** Chromium executable (default env R2EC_CHROMIUM, else /usr/bin/chromium) */
  chromium?: string;
  /** PNG pixel density (default 2: a 640×400 figure gives a 1280×800 PNG, fine for print) */
  scale?: number;
  /** ms to wait for the browser to start (default 60 000) */
  launchTimeoutMs?: number;
}

export interface ExportOptions extends RenderOptions {
  /** formats to write (default both) */
  formats?: ImageFormat[];
  /** do not log the skip message (it is still returned) */
  quiet?: boolean;
}

export interface ExportResult {
  /** files written, in order */
  written: string[];
  /** set when nothing could be exported: why, and what to install or set */
  skipped?: string;
}

export interface FigureRenderer {
  svg(figure: Figure): Promise<string>;
  png(figure: Figure, scale?: number): Promise<Buffer>;
  close(): Promise<void>;
}

/** Thrown by openRenderer when Chromium is missing or does not start; exportFigures turns it into `skipped`. */
export class ChromiumUnavailable extends R2ecError {
  constructor(message: string) {
    super(message);
    this.name = 'ChromiumUnavailable';
  }
}

// Without the networking flags Chromium keeps trying to reach the internet (stack notes "Plotly").
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function chromiumPath(opts: RenderOptions = {}): string {
  return opts.chromium ?? envValue('R2EC_CHROMIUM') ?? '/usr/bin/chromium';
}

export function plotlyBundlePath(): string {
  return require.resolve('plotly.js-dist-min/plotly.min.js');
}

function decodeDataUrl(url: string): Buffer {
  const comma = url.indexOf(',');
  if (!url.startsWith('data:') || comma < 0) throw new R2ecError(`plotly toImage returned no data URL: ${url.slice(0, 40)}`);
  const meta = url.slice(5, comma);
  const payload = url.slice(comma + 1);
  return meta.endsWith(';base64') ? Buffer.from(payload, 'base64') : Buffer.from(decodeURIComponent(payload), 'utf8');
}

/** Start Chromium with one page holding the plotly bundle. Throws ChromiumUnavailable with a clear message. */
export async function openRenderer(opts: RenderOptions = {}): Promise<FigureRenderer> {
  const exe = chromiumPath(opts);
  const fix = 'install the Debian package "chromium" (npm run notebooks:setup does) or set R2EC_CHROMIUM';
  if (!existsSync(exe)) throw new ChromiumUnavailable(`figure export skipped: no Chromium at ${exe}; ${fix}`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { chromium } = require('playwright-core') as typeof import('playwright-core');
  let browser: import('playwright-core').Browser;
  try {
    browser = await chromium.launch({
      executablePath: exe,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: opts.launchTimeoutMs ?? 60_000,
    });
  } catch (e) {
    const first = String((e as Error).message ?? e).split('\n')[0];
    throw new ChromiumUnavailable(`figure export skipped: Chromium at ${exe} did not start (${first}); ${fix}`);
  }
  try {
    const page = await browser.newPage();
    await page.setContent('<!doctype html><html><body style="margin:0"><div id="fig"></div></body></html>');
    await page.addScriptTag({ path: plotlyBundlePath() });
    const render = async (figure: Figure, format: ImageFormat, scale: number): Promise<Buffer> => {
      const width = Number(figure.layout.width ?? DEFAULT_WIDTH);
      const height = Number(figure.layout.height ?? DEFAULT_HEIGHT);
      const url = await page.evaluate(
        async (a: { fig: Figure; format: ImageFormat; width: number; height: number; scale: number }) => {
          // Runs in the page (no DOM types in this project: reach the page's globals through globalThis).
          const g = globalThis as any; // eslint-disable-line @typescript-eslint/no-explicit-any
          const div = g.document.getElementById('fig');
          await g.Plotly.newPlot(div, a.fig.data, a.fig.layout, { staticPlot: true });
          const out: string = await g.Plotly.toImage(div, {
            format: a.format,
            width: a.width,
            height: a.height,
            scale: a.scale,
          });
          g.Plotly.purge(div);
          return out;
        },
        { fig: JSON.parse(JSON.stringify(figure)) as Figure, format, width, height, scale },
      );
      return decodeDataUrl(url);
    };
    return {
      svg: async (figure) => (await render(figure, 'svg', 1)).toString('utf8'),
      png: (figure, scale) => render(figure, 'png', scale ?? opts.scale ?? 2),
      close: () => browser.close(),
    };
  } catch (e) {
    await browser.close().catch(() => undefined);
    throw e;
  }
}

/**
 * Write <dir>/<name>.svg and/or .png for each figure, with one browser for the whole batch. Never throws for a
 * missing Chromium (see `skipped`); a figure Plotly cannot draw is an error naming the figure.
 */
export async function exportFigures(
  figs: { name: string; figure: Figure }[],
  dir: string,
  opts: ExportOptions = {},
): Promise<ExportResult> {
  const formats = opts.formats ?? ['svg', 'png'];
  for (const f of figs) {
    if (!/^[\w.@-]+$/.test(f.name)) throw new R2ecError(`exportFigures: name "${f.name}" must be a plain file name`);
  }
  if (figs.length === 0 || formats.length === 0) return { written: [] };
  let renderer: FigureRenderer;
  try {
    renderer = await openRenderer(opts);
  } catch (e) {
    if (!(e instanceof ChromiumUnavailable)) throw e;
    if (!opts.quiet) console.warn(`r2ec: ${e.message}`);
    return { written: [], skipped: e.message };
  }
  const written: string[] = [];
  try {
    mkdirSync(dir, { recursive: true });
    for (const { name, figure } of figs) {
      for (const format of formats) {
        let data: string | Buffer;
        try {
          data = format === 'svg' ? await renderer.svg(figure) : await renderer.png(figure);
        } catch (e) {
          throw new R2ecError(`exportFigures: figure "${name}" (${format}): ${String((e as Error).message ?? e).split('\n')[0]}`);
        }
        const file = path.join(dir, `${name}.${format}`);
        writeFileSync(file, data);
        written.push(file);
      }
    }
  } finally {
    await renderer.close();
  }
  return { written };
}
