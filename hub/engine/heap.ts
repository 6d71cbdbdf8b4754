/** Minimal binary min-heap keyed by (at, seq): deterministic order for equal times. */
export class MinHeap<T extends { at: number; seq: number }> {
  #a: T[] = [];
  get size(): number {
    return this.#a.length;
  }
  peek(): T | undefined {
    return this.#a[0];
  }
  /** A copy that shares no array with this heap (items themselves are immutable). */
  clone(): MinHeap<T> {
    const h = new MinHeap<T>();
    h.#a = this.#a.slice();
    return h;
  }
  /** Calls `fn` for every item with `at` < `t`, in no particular order, without removing them: O(items visited). */
  forEachBefore(t: number, fn: (x: T) => void): void {
    const a = this.#a;
    const stack = a.length > 0 ? [0] : [];
    while (stack.length > 0) {
      const i = stack.pop()!;
      const x = a[i]!;
      if (!(x.at < t)) continue; // heap order: nothing below it is earlier
      fn(x);
      const l = 2 * i + 1;
      if (l < a.length) stack.push(l);
      if (l + 1 < a.length) stack.push(l + 1);
    }
  }
  /** Drops every item `keep` refuses, then restores heap order: O(n). */
  retain(keep: (x: T) => boolean): void {
    const a = this.#a.filter(keep);
    for (let i = (a.length >> 1) - 1; i >= 0; i--) siftDown(a, i);
    this.#a = a;
  }
  push(x: T): void {
    const a = this.#a;
    a.push(x);
    let i = a.length - 1;
    // sifted with a hole, not swaps: no array per step
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(x, a[p]!)) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = x;
  }
  pop(): T | undefined {
    const a = this.#a;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      siftDown(a, 0);
    }
    return top;
  }
}

function siftDown<T extends { at: number; seq: number }>(a: T[], start: number): void {
  const x = a[start]!;
  const n = a.length;
  let i = start;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= n) break;
    const r = l + 1;
    const c = r < n && less(a[r]!, a[l]!) ? r : l;
    if (!less(a[c]!, x)) break;
    a[i] = a[c]!;
    i = c;
  }
  a[i] = x;
}

function less(x: { at: number; seq: number }, y: { at: number; seq: number }): boolean {
  return x.at < y.at || (x.at === y.at && x.seq < y.seq);
}
