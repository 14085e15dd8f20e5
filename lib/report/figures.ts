// Plotly figure specs (plain JSON {data, layout}) in one print-friendly style: 14 px Helvetica/Arial, the Okabe–Ito
// colour-blind-safe palette, white background, outside ticks, light grid, axis titles with units, legend on top.
// The same spec renders inline in a notebook (display.ts) and exports to SVG/PNG (export.ts).
//
//   const fig = lineChart({ series: [{ name: 'RecPO', x: steps, y: reward, std: rewardStd }],
//                           xLabel: axisLabel('step'), yLabel: axisLabel('reward') });

/** A Plotly trace or layout object (kept loose: Plotly's own types are not a dependency). */
export type PlotlyObject = Record<string, unknown>;

export interface Figure {
  data: PlotlyObject[];
  layout: PlotlyObject;
}

/**
 * Okabe & Ito (2008) colour-blind-safe palette. Yellow goes last: it is hard to see as a thin line on white paper,
 * so it is only used from the eighth series on.
 */
export const OKABE_ITO = [
  '#E69F00', // orange
  '#56B4E9', // sky blue
  '#009E73', // bluish green
  '#0072B2', // blue
  '#D55E00', // vermillion
  '#CC79A7', // reddish purple
  '#000000', // black
  '#F0E442', // yellow
] as const;

export const FONT_FAMILY = 'Helvetica, Arial, "Liberation Sans", sans-serif';
export const FONT_SIZE = 14;
/** default export size in CSS pixels (PNG export multiplies by its scale) */
export const DEFAULT_WIDTH = 640;
export const DEFAULT_HEIGHT = 400;

/** 'Latency', 's' → 'Latency (s)'; no unit → the name alone. */
export function axisLabel(name: string, unit?: string): string {
  return unit ? `${name} (${unit})` : name;
}

/** Palette colour i (cycles). */
export function color(i: number): string {
  return OKABE_ITO[((i % OKABE_ITO.length) + OKABE_ITO.length) % OKABE_ITO.length];
}

/** '#E69F00', 0.2 → 'rgba(230,159,0,0.2)' */
export function withAlpha(hex: string, alpha: number): string {
  const m = /^#([0-9a-f]{6})$/i.exec(hex);
  if (!m) throw new Error(`withAlpha: expected #rrggbb, got ${hex}`);
  const n = parseInt(m[1], 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
}

export interface CommonOptions {
  title?: string;
  /** x-axis title, with unit (see axisLabel) */
  xLabel?: string;
  /** y-axis title, with unit */
  yLabel?: string;
  width?: number;
  height?: number;
  /** show the legend (default: when there is more than one series) */
  legend?: boolean;
  logX?: boolean;
  logY?: boolean;
  /** y-axis range [min, max] */
  yRange?: [number, number];
  /** Plotly layout fields on top of the style; xaxis, yaxis, legend, margin and font are merged one level deep */
  layout?: PlotlyObject;
}

const MERGED_KEYS = ['xaxis', 'yaxis', 'legend', 'margin', 'font'];

/** Apply CommonOptions.layout over a styled layout. */
function withOverrides(layout: PlotlyObject, over: PlotlyObject | undefined): PlotlyObject {
  if (!over) return layout;
  const out: PlotlyObject = { ...layout };
  for (const [k, v] of Object.entries(over)) {
    const base = out[k];
    out[k] =
      MERGED_KEYS.includes(k) && typeof base === 'object' && base !== null && typeof v === 'object' && v !== null
        ? { ...(base as PlotlyObject), ...(v as PlotlyObject) }
        : v;
  }
  return out;
}

function axis(title: string | undefined, log: boolean | undefined, extra: PlotlyObject = {}): PlotlyObject {
  return {
    title: { text: title ?? '', standoff: 8 },
    type: log ? 'log' : undefined,
    showline: true,
    linecolor: '#000',
    linewidth: 1,
    mirror: false,
    ticks: 'outside',
    tickcolor: '#000',
    showgrid: true,
    gridcolor: '#e5e5e5',
    zeroline: false,
    automargin: true,
    ...extra,
  };
}

/** The shared layout; chart helpers add their own fields on top. */
export function baseLayout(opts: CommonOptions, nSeries: number): PlotlyObject {
  const showLegend = opts.legend ?? nSeries > 1;
  return {
    width: opts.width ?? DEFAULT_WIDTH,
    height: opts.height ?? DEFAULT_HEIGHT,
    font: { family: FONT_FAMILY, size: FONT_SIZE, color: '#000' },
    title: opts.title ? { text: opts.title, x: 0.5, xanchor: 'center', font: { size: FONT_SIZE + 2 } } : undefined,
    paper_bgcolor: '#ffffff',
    plot_bgcolor: '#ffffff',
    colorway: [...OKABE_ITO],
    showlegend: showLegend,
    legend: { orientation: 'h', x: 0, xanchor: 'left', y: 1.02, yanchor: 'bottom', bgcolor: 'rgba(255,255,255,0)' },
    margin: { l: 70, r: 20, t: opts.title ? 60 : showLegend ? 40 : 20, b: 60 },
    xaxis: axis(opts.xLabel, opts.logX),
    yaxis: axis(opts.yLabel, opts.logY, opts.yRange ? { range: opts.yRange } : {}),
  };
}

function checkLengths(what: string, a: readonly unknown[], b: readonly unknown[], an: string, bn: string): void {
  if (a.length !== b.length) throw new Error(`${what}: ${an} has ${a.length} values but ${bn} has ${b.length}`);
}

// ---- bar charts ---------------------------------------------------------------------------------------------------

export interface BarOptions extends CommonOptions {
  x: (string | number)[];
  y: number[];
  /** error bar half-widths (e.g. std over seeds) */
  error?: number[];
  name?: string;
  /** horizontal bars (categories on the y axis) */
  horizontal?: boolean;
}

export function barChart(o: BarOptions): Figure {
  checkLengths('barChart', o.x, o.y, 'x', 'y');
  if (o.error) checkLengths('barChart', o.y, o.error, 'y', 'error');
  const trace: PlotlyObject = {
    type: 'bar',
    name: o.name ?? '',
    x: o.horizontal ? o.y : o.x,
    y: o.horizontal ? o.x : o.y,
    orientation: o.horizontal ? 'h' : 'v',
    marker: { color: color(0), line: { color: '#000', width: 0.5 } },
  };
  if (o.error) trace[o.horizontal ? 'error_x' : 'error_y'] = { type: 'data', array: o.error, color: '#000', thickness: 1 };
  const layout = baseLayout({ ...o, legend: o.legend ?? false }, 1);
  if (o.horizontal) [layout.xaxis, layout.yaxis] = [axis(o.xLabel, o.logX), axis(o.yLabel, o.logY)];
  return { data: [trace], layout: withOverrides(layout, o.layout) };
}

export interface BarSeries {
  name: string;
  values: number[];
  error?: number[];
}

export interface GroupedBarOptions extends CommonOptions {
  /** the groups along the x axis (e.g. datasets) */
  categories: (string | number)[];
  /** one series per bar colour (e.g. methods) */
  series: BarSeries[];
}

export function groupedBarChart(o: GroupedBarOptions): Figure {
  const data = o.series.map((s, i) => {
    checkLengths('groupedBarChart', o.categories, s.values, 'categories', `series "${s.name}"`);
    const t: PlotlyObject = {
      type: 'bar',
      name: s.name,
      x: o.categories,
      y: s.values,
      marker: { color: color(i), line: { color: '#000', width: 0.5 } },
    };
    if (s.error) t.error_y = { type: 'data', array: s.error, color: '#000', thickness: 1 };
    return t;
  });
  return { data, layout: withOverrides({ ...baseLayout(o, data.length), barmode: 'group', bargap: 0.2, bargroupgap: 0.05 }, o.layout) };
}

// ---- line and scatter charts ---------------------------------------------------------------------------------------

export interface LineSeries {
  name: string;
  x: number[];
  y: number[];
  /** ± band around y (e.g. std over seeds), drawn as a translucent area in the series colour */
  std?: number[];
  dash?: 'solid' | 'dash' | 'dot' | 'dashdot';
  /** show markers on the points (default: only when there are at most 30 points) */
  markers?: boolean;
}

export interface LineOptions extends CommonOptions {
  series: LineSeries[];
}

/** Line chart, e.g. training curves; `std` draws a mean ± std band behind each line. */
export function lineChart(o: LineOptions): Figure {
  const data: PlotlyObject[] = [];
  o.series.forEach((s, i) => {
    checkLengths('lineChart', s.x, s.y, `series "${s.name}" x`, 'y');
    const c = color(i);
    if (s.std) {
      checkLengths('lineChart', s.y, s.std, `series "${s.name}" y`, 'std');
      const upper = s.y.map((v, k) => v + s.std![k]);
      const lower = s.y.map((v, k) => v - s.std![k]);
      data.push({
        type: 'scatter',
        mode: 'lines',
        name: `${s.name} ± std`,
        x: [...s.x, ...[...s.x].reverse()],
        y: [...upper, ...lower.reverse()],
        fill: 'toself',
        fillcolor: withAlpha(c, 0.2),
        line: { width: 0, color: withAlpha(c, 0) },
        hoverinfo: 'skip',
        showlegend: false,
        legendgroup: s.name,
      });
    }
    const markers = s.markers ?? s.x.length <= 30;
    data.push({
      type: 'scatter',
      mode: markers ? 'lines+markers' : 'lines',
      name: s.name,
      x: s.x,
      y: s.y,
      line: { color: c, width: 2, dash: s.dash ?? 'solid' },
      marker: { color: c, size: 6 },
      legendgroup: s.name,
    });
  });
  return { data, layout: withOverrides(baseLayout(o, o.series.length), o.layout) };
}

export interface ScatterSeries {
  name: string;
  x: number[];
  y: number[];
  /** hover text / labels per point */
  text?: string[];
  /** write `text` next to the points (default false: hover only) */
  showText?: boolean;
}

export interface ScatterOptions extends CommonOptions {
  series: ScatterSeries[];
}

export function scatterChart(o: ScatterOptions): Figure {
  const symbols = ['circle', 'square', 'diamond', 'triangle-up', 'cross', 'x', 'star', 'triangle-down'];
  const data = o.series.map((s, i) => {
    checkLengths('scatterChart', s.x, s.y, `series "${s.name}" x`, 'y');
    if (s.text) checkLengths('scatterChart', s.x, s.text, `series "${s.name}" x`, 'text');
    return {
      type: 'scatter',
      mode: s.showText ? 'markers+text' : 'markers',
      name: s.name,
      x: s.x,
      y: s.y,
      text: s.text,
      textposition: 'top center',
      // Symbol as well as colour, so series stay apart in greyscale print.
      marker: { color: color(i), size: 9, symbol: symbols[i % symbols.length], line: { color: '#000', width: 0.5 } },
    } as PlotlyObject;
  });
  return { data, layout: withOverrides(baseLayout(o, data.length), o.layout) };
}

// ---- histogram ----------------------------------------------------------------------------------------------------

export interface HistogramSeries {
  name: string;
  values: number[];
}

export interface HistogramOptions extends CommonOptions {
  series: HistogramSeries[];
  /** bin width (default: Plotly's automatic binning) */
  binSize?: number;
  /** first bin start (with binSize) */
  binStart?: number;
  /** 'count' (default) or 'probability' (per series, so series of different sizes compare) or 'percent' */
  norm?: 'count' | 'probability' | 'percent';
  /** 'overlay' (translucent, default) or 'group' (side by side) */
  barmode?: 'overlay' | 'group';
}

export function histogram(o: HistogramOptions): Figure {
  const overlay = (o.barmode ?? 'overlay') === 'overlay' && o.series.length > 1;
  const data = o.series.map((s, i) => {
    const t: PlotlyObject = {
      type: 'histogram',
      name: s.name,
      x: s.values,
      histnorm: o.norm && o.norm !== 'count' ? o.norm : '',
      marker: { color: color(i), line: { color: '#000', width: 0.5 } },
      opacity: overlay ? 0.6 : 1,
    };
    if (o.binSize) t.xbins = { size: o.binSize, start: o.binStart };
    return t;
  });
  const yLabel = o.yLabel ?? (o.norm === 'probability' ? 'share' : o.norm === 'percent' ? 'percent' : 'count');
  return {
    data,
    layout: withOverrides({ ...baseLayout({ ...o, yLabel }, data.length), barmode: overlay ? 'overlay' : 'group', bargap: 0.05 }, o.layout),
  };
}
