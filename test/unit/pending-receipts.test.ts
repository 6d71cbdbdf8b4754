import { describe, expect, it } from 'vitest';
import { PendingReceipts } from '../../hub/pending-receipts.ts';

describe('PendingReceipts', () => {
  it('gives the oldest pending receive time as events leave in order', () => {
    const p = new PendingReceipts();
    expect(p.floor()).toBe(Infinity);
    p.add(10);
    p.add(10);
    p.add(12);
    expect(p.floor()).toBe(10);
    p.remove(10);
    expect(p.floor()).toBe(10);
    p.remove(10);
    expect(p.floor()).toBe(12);
    p.remove(12);
    expect(p.floor()).toBe(Infinity);
    expect(p.size).toBe(0);
  });

  it('finds the oldest after the clock stepped back, and removes out of order', () => {
    const p = new PendingReceipts();
    p.add(100);
    p.add(90); // the clock stepped back
    p.add(95);
    expect(p.floor()).toBe(90);
    p.remove(90);
    expect(p.floor()).toBe(95);
    p.remove(95);
    expect(p.floor()).toBe(100);
    p.remove(7); // not pending: nothing changes
    expect(p.size).toBe(1);
    p.remove(100);
    // empty: ordered again
    p.add(50);
    p.add(60);
    expect(p.floor()).toBe(50);
  });

  it('keeps its answer across the compactions of a stream that never runs empty', () => {
    const p = new PendingReceipts();
    p.add(0);
    p.add(1);
    let wrong = 0;
    for (let t = 2; t < 100_000; t++) {
      p.add(t);
      p.remove(t - 2);
      if (p.floor() !== t - 1) wrong++;
    }
    expect(wrong).toBe(0);
    expect(p.size).toBe(2);
  });
});
