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

/** One boot's estimate. The engine holds it per source, so an event costs no lookup by key. */
export class BootClock {
  readonly #windowMs: number;
  readonly #windowCount: number;
  // the monotonic deque, as parallel arrays (no object per sample): receive time, lag, sample number
  #recv: number[] = [];
  #lag: number[] = [];
  #n: number[] = [];
  #head = 0;
  #lastRecv = -Infinity;
  #count = 0;
  /** dropped by ClockSync.forget: whoever still holds it asks for a fresh one */
  forgotten = false;

  constructor(windowMs: number, windowCount: number) {
    this.#windowMs = windowMs;
    this.#windowCount = windowCount;
  }

  observe(nodeMs: number, recvMs: number): void {
    // replayed traces may hold receive times slightly out of order: keep the window monotone
    const recv = Math.max(recvMs, this.#lastRecv);
    this.#lastRecv = recv;
    const lag = recvMs - nodeMs;
    const lags = this.#lag;
    while (lags.length > this.#head && lags[lags.length - 1]! >= lag) {
      lags.pop();
      this.#recv.pop();
      this.#n.pop();
    }
    lags.push(lag);
    this.#recv.push(recv);
    this.#n.push(++this.#count);
    this.#expire();
  }

  /** hub − node clock offset in ms (add to a node time to get hub time), undefined before any sample */
  get offset(): number | undefined {
    return this.#lag.length > this.#head ? this.#lag[this.#head] : undefined;
  }

  #expire(): void {
    const cutoff = this.#lastRecv - this.#windowMs;
    // never drop the last sample: an estimate from an old sample beats none
    const keepFrom = this.#count - this.#windowCount;
    const len = this.#lag.length;
    let h = this.#head;
    while (len - h > 1 && this.#recv[h]! < cutoff && this.#n[h]! < keepFrom) h++;
    this.#head = h;
    if (h > 1024 && h * 2 > len) {
      this.#recv = this.#recv.slice(h);
      this.#lag = this.#lag.slice(h);
      this.#n = this.#n.slice(h);
      this.#head = 0;
    }
  }
}

export class ClockSync {
  readonly #windowMs: number;
  readonly #windowCount: number;
  readonly #nodes = new Map<string, BootClock>();

  constructor(windowMs = 15 * 60_000, windowCount = 512) {
    this.#windowMs = windowMs;
    this.#windowCount = windowCount;
  }

  /** the estimate of one boot (`node/bootid`), made at its first sample */
  clock(key: string): BootClock {
    let c = this.#nodes.get(key);
    if (!c) {
      c = new BootClock(this.#windowMs, this.#windowCount);
      this.#nodes.set(key, c);
    }
    return c;
  }

  /** forgets a clock (a node's boot no longer kept) */
  forget(key: string): void {
    const c = this.#nodes.get(key);
    if (c) c.forgotten = true;
    this.#nodes.delete(key);
  }
}
