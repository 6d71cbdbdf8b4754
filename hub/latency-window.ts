// Durations of the last N operations of one kind (journal commits, PUBACKs), and their p50,
// p99 and max: what /metrics and /live read. A ring of N doubles, sorted only when the figures
// are read after something new came (a scrape reads them several times).

import type { LatencyFigures } from '../contract/index.ts';

export interface LatencyWindow {
  add(ms: number): void;
  /** how many were added since the start */
  readonly count: number;
  /** over the last min(count, size) durations; null before the first */
  figures(): LatencyFigures | null;
}

export function latencyWindow(size: number): LatencyWindow {
  const ring = new Float64Array(size);
  let count = 0;
  let figures: LatencyFigures | null = null;
  let figuresAt = 0;
  return {
    add(ms) {
      ring[count % size] = ms;
      count++;
    },
    get count() {
      return count;
    },
    figures() {
      if (figuresAt !== count) {
        const n = Math.min(count, size);
        const d = ring.slice(0, n).sort();
        const at = (q: number) => d[Math.min(n - 1, Math.ceil(q * n) - 1)]!;
        figures = { p50: at(0.5), p99: at(0.99), max: d[n - 1]!, n };
        figuresAt = count;
      }
      return figures;
    },
  };
}
