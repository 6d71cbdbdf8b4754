import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

// uPlot charts over categories (hours, days, TTG buckets): bars of counts or service
// levels, lines of service level, and a dashed target line across the whole plot. Each
// chart fills its container's width and follows it, and is drawn at print width when the
// page is printed. Every chart sits next to a table of the same figures: the chart is for
// the eye, the table for screen readers and for copying numbers.

export const COLORS = {
  bar: '#2f62b8',
  good: '#2e7d32',
  bad: '#c62828',
  line: '#7b3fa0',
  target: '#111418',
  axis: '#3d4550',
  grid: '#e3e6ea',
} as const;

export interface CategorySeries {
  label: string;
  values: (number | null)[];
  kind: 'bar' | 'line';
  color: string;
  /** `n`: counts from 0 (left axis); `pct`: 0–100 % (right axis when there are counts too) */
  scale: 'n' | 'pct';
}

export interface CategoryChart {
  labels: string[];
  series: CategorySeries[];
  /** a dashed line across the plot at this percentage (pct scale), named in the legend */
  target?: { value: number; label: string };
  height?: number;
  /** the narrowest room one x label needs, px (labels are thinned out below it) */
  labelPx?: number;
}

/** A4 portrait with 15 mm margins at 96 dpi: charts are redrawn this wide for printing */
const PRINT_WIDTH = 680;

interface Live {
  u: uPlot;
  key: string;
  height: number;
  ro: ResizeObserver;
}
const charts = new Map<HTMLElement, Live>();

const widthOf = (el: HTMLElement) => Math.max(240, Math.floor(el.clientWidth));

function niceCeil(v: number): number {
  if (!(v > 0)) return 1;
  const mag = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= v) return m * mag;
  return 10 * mag;
}

function options(el: HTMLElement, spec: CategoryChart, height: number): uPlot.Options {
  const n = spec.labels.length;
  const xs = spec.labels.map((_, i) => i);
  const hasN = spec.series.some((s) => s.scale === 'n');
  const bars = uPlot.paths.bars!({ size: [0.72, 64], gap: 1 });
  const labelPx = spec.labelPx ?? 44;
  const axisFont = '12px system-ui, sans-serif';
  const axes: uPlot.Axis[] = [
    {
      stroke: COLORS.axis,
      font: axisFont,
      grid: { show: false },
      ticks: { show: false },
      splits: (u) => {
        const step = Math.max(1, Math.ceil((n * labelPx) / Math.max(1, u.bbox.width / devicePixelRatio)));
        return xs.filter((i) => i % step === 0);
      },
      values: (_u, splits) => splits.map((i) => spec.labels[i] ?? ''),
    },
  ];
  // counts: whole-number steps only
  if (hasN) axes.push({ scale: 'n', stroke: COLORS.axis, font: axisFont, grid: { stroke: COLORS.grid, width: 1 }, ticks: { show: false }, size: 44, incrs: [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000] });
  if (spec.series.some((s) => s.scale === 'pct') || spec.target) {
    axes.push({
      scale: 'pct',
      side: hasN ? 1 : 3,
      stroke: COLORS.axis,
      font: axisFont,
      grid: { show: !hasN, stroke: COLORS.grid, width: 1 },
      ticks: { show: false },
      splits: () => [0, 25, 50, 75, 100],
      values: (_u, splits) => splits.map((v) => `${v} %`),
      size: 52,
    });
  }
  const series: uPlot.Series[] = [{ label: '', value: (_u, v) => spec.labels[v] ?? '' }];
  for (const s of spec.series) {
    const fmt = (_u: uPlot, v: number | null) => (v === null || v === undefined ? '–' : s.scale === 'pct' ? `${Math.round(v)} %` : String(v));
    if (s.kind === 'bar') series.push({ label: s.label, scale: s.scale, stroke: s.color, fill: s.color, width: 0, paths: bars, points: { show: false }, value: fmt });
    else series.push({ label: s.label, scale: s.scale, stroke: s.color, width: 2, points: { show: true, size: 7, fill: s.color }, spanGaps: false, value: fmt });
  }
  const target = spec.target;
  if (target) {
    // in the legend only; the line itself is drawn across the whole plot by the draw hook
    series.push({ label: target.label, scale: 'pct', stroke: COLORS.target, dash: [6, 4], width: 2, paths: () => null, points: { show: false }, value: () => `${target.value} %` });
  }
  return {
    width: widthOf(el),
    height,
    scales: {
      x: { time: false, range: () => [-0.5, n - 0.5] },
      n: { range: (_u, _min, max) => [0, niceCeil(max)] },
      pct: { range: () => [0, 100] },
    },
    axes,
    series,
    cursor: { drag: { x: false, y: false, setScale: false }, points: { show: false } },
    // names only: the figures are in the table next to the chart
    legend: { show: true, live: false },
    hooks: target
      ? {
          draw: [
            (u) => {
              const y = u.valToPos(target.value, 'pct', true);
              const ctx = u.ctx;
              ctx.save();
              ctx.strokeStyle = COLORS.target;
              ctx.lineWidth = 2 * devicePixelRatio;
              ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
              ctx.beginPath();
              ctx.moveTo(u.bbox.left, y);
              ctx.lineTo(u.bbox.left + u.bbox.width, y);
              ctx.stroke();
              ctx.restore();
            },
          ],
        }
      : {},
  };
}

/**
 * Draws `spec` into `el`, replacing the chart already there. Same labels and series: only
 * the data changes (the manager view redraws every snapshot without rebuilding).
 */
export function drawChart(el: HTMLElement, spec: CategoryChart): uPlot {
  const height = spec.height ?? 220;
  const key = JSON.stringify([spec.labels, spec.series.map((s) => [s.label, s.kind, s.color, s.scale]), spec.target, height]);
  const data: uPlot.AlignedData = [spec.labels.map((_, i) => i), ...spec.series.map((s) => s.values), ...(spec.target ? [spec.labels.map(() => spec.target!.value)] : [])];
  const old = charts.get(el);
  if (old && old.key === key) {
    old.u.setData(data);
    return old.u;
  }
  if (old) {
    old.ro.disconnect();
    old.u.destroy();
  }
  const u = new uPlot(options(el, spec, height), data, el);
  const ro = new ResizeObserver(() => {
    if (printing) return;
    const w = widthOf(el);
    if (w !== u.width) u.setSize({ width: w, height });
  });
  ro.observe(el);
  charts.set(el, { u, key, height, ro });
  return u;
}

let printing = false;
addEventListener('beforeprint', () => {
  printing = true;
  for (const c of charts.values()) c.u.setSize({ width: PRINT_WIDTH, height: c.height });
});
addEventListener('afterprint', () => {
  printing = false;
  for (const [el, c] of charts) c.u.setSize({ width: widthOf(el), height: c.height });
});
