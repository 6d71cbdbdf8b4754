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
// With `rules.clockConfirmS` > 0 (README "Order, duplicates and clocks"), a sample more than
// that below the current minimum is held apart until a second one agrees with it (within the
// same margin, inside the window's 15 min): one event dated ahead, yet within maxSkewS, then
// cannot shift the node's offset (CONTRACT.md "Event envelope"). 0 keeps the plain minimum.

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

  readonly #confirmMs: number;
  /** a sample far below the minimum, waiting for a second one to agree (confirmMs > 0) */
  #suspectLag = NaN;
  #suspectRecv = NaN;

  constructor(windowMs: number, windowCount: number, confirmMs = 0) {
    this.#windowMs = windowMs;
    this.#windowCount = windowCount;
    this.#confirmMs = confirmMs;
  }

  observe(nodeMs: number, recvMs: number): void {
    // replayed traces may hold receive times slightly out of order: keep the window monotone
    const recv = Math.max(recvMs, this.#lastRecv);
    this.#lastRecv = recv;
    const lag = recvMs - nodeMs;
    if (this.#confirmMs > 0 && this.#outlier(lag, recv)) return;
    this.#push(lag, recv);
  }

  /** held apart (true), or let in with the earlier one it confirms (false) */
  #outlier(lag: number, recv: number): boolean {
    const cur = this.offset;
    // the first sample of a boot has nothing to be judged against
    if (cur === undefined || lag >= cur - this.#confirmMs) return false;
    const agrees = recv - this.#suspectRecv <= this.#windowMs && Math.abs(lag - this.#suspectLag) <= this.#confirmMs;
    if (!agrees) {
      this.#suspectLag = lag;
      this.#suspectRecv = recv;
      return true;
    }
    // two samples agree: the clock did move (a step of NTP, a new RTC), and both enter the window
    this.#push(this.#suspectLag, this.#suspectRecv);
    this.#suspectLag = NaN;
    this.#suspectRecv = NaN;
    return false;
  }

  #push(lag: number, recv: number): void {
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

  readonly #confirmMs: number;

  constructor(windowMs = 15 * 60_000, windowCount = 512, confirmMs = 0) {
    this.#windowMs = windowMs;
    this.#windowCount = windowCount;
    this.#confirmMs = confirmMs;
  }

  /** the estimate of one boot (`node/bootid`), made at its first sample */
  clock(key: string): BootClock {
    let c = this.#nodes.get(key);
    if (!c) {
      c = new BootClock(this.#windowMs, this.#windowCount, this.#confirmMs);
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
