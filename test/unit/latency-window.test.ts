import { describe, expect, it } from 'vitest';
import { latencyWindow } from '../../hub/latency-window.ts';

describe('latencyWindow', () => {
  it('has no figures before the first duration', () => {
    const w = latencyWindow(8);
    expect(w.figures()).toBeNull();
    expect(w.count).toBe(0);
  });

  it('gives p50, p99 and max of what it holds (nearest rank)', () => {
    const w = latencyWindow(1000);
    // 1..100 in a scrambled order: the order they came in does not matter
    for (let i = 0; i < 100; i++) w.add(((i * 37) % 100) + 1);
    expect(w.figures()).toEqual({ p50: 50, p99: 99, max: 100, n: 100 });
    expect(w.count).toBe(100);
  });

  it('keeps only the last `size` durations', () => {
    const w = latencyWindow(4);
    for (const ms of [900, 800, 1, 2, 3, 4]) w.add(ms);
    expect(w.figures()).toEqual({ p50: 2, p99: 4, max: 4, n: 4 });
    expect(w.count).toBe(6);
  });

  it('reads new figures after a new duration, not stale ones', () => {
    const w = latencyWindow(4);
    w.add(5);
    expect(w.figures()?.max).toBe(5);
    w.add(7);
    expect(w.figures()).toEqual({ p50: 5, p99: 7, max: 7, n: 2 });
  });
});
