// Node clocks are not trusted (README "Order, duplicates and clocks"): each node's offset is estimated from live
// traffic as the minimum of (hub receive time − node time) over a sliding window.
// Network delay only ever adds, so the minimum tracks offset + the smallest delay
// (≈ 1 ms on a store LAN); events buffered during an outage arrive with large
// lags and never pull the minimum. The window follows slow drift of a clock without
// NTP: a sample leaves it once it is both older than 15 min and followed by 512
// newer samples, so a long outage's flush is still judged against the samples from
// before it. Only events feed it (not `status`), so replaying a recorded trace
// finds the same offsets as the live hub did. Keyed by node boot. A monotonic
// deque keeps it O(1) amortised.

interface Sample {
  recv: number;
  lag: number;
  n: number;
}

interface NodeClock {
  dq: Sample[];
  head: number;
  lastRecv: number;
  count: number;
}

export class ClockSync {
  readonly #windowMs: number;
  readonly #windowCount: number;
  readonly #nodes = new Map<string, NodeClock>();

  constructor(windowMs = 15 * 60_000, windowCount = 512) {
    this.#windowMs = windowMs;
    this.#windowCount = windowCount;
  }

  observe(node: string, nodeMs: number, recvMs: number): void {
    let c = this.#nodes.get(node);
    if (!c) {
      c = { dq: [], head: 0, lastRecv: -Infinity, count: 0 };
      this.#nodes.set(node, c);
    }
    // replayed traces may hold receive times slightly out of order: keep the window monotone
    const recv = Math.max(recvMs, c.lastRecv);
    c.lastRecv = recv;
    const lag = recvMs - nodeMs;
    while (c.dq.length > c.head && c.dq[c.dq.length - 1]!.lag >= lag) c.dq.pop();
    c.dq.push({ recv, lag, n: ++c.count });
    this.#expire(c);
  }

  /** forgets a clock (a node's boot no longer kept) */
  forget(node: string): void {
    this.#nodes.delete(node);
  }

  /** hub − node clock offset in ms (add to a node time to get hub time), undefined before any sample */
  offset(node: string): number | undefined {
    const c = this.#nodes.get(node);
    if (!c || c.dq.length <= c.head) return undefined;
    return c.dq[c.head]!.lag;
  }

  #expire(c: NodeClock): void {
    const cutoff = c.lastRecv - this.#windowMs;
    // never drop the last sample: an estimate from an old sample beats none
    const keepFrom = c.count - this.#windowCount;
    while (c.dq.length - c.head > 1 && c.dq[c.head]!.recv < cutoff && c.dq[c.head]!.n < keepFrom) c.head++;
    if (c.head > 1024 && c.head * 2 > c.dq.length) {
      c.dq = c.dq.slice(c.head);
      c.head = 0;
    }
  }
}
