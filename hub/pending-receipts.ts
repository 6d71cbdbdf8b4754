// Receive times of the events ingest has recorded but not yet handed to the engine (the trace
// write, the PUBACK and the turn budget in between). The hub's tick may move hub time only up
// to just before the oldest of them: a tick past an event received earlier than it, but not yet
// ingested, would judge that event against a later hub time than a replay of the trace does
// (README "Order, duplicates and clocks"; CONTRACT.md "Replay").
//
// Events leave in the order they came (commits complete in order, the turn budget keeps it),
// and receive times are taken from one clock as they come, so the oldest is almost always at
// the front: add and remove are O(1) then. A clock stepped back breaks the order; the floor is
// then found by a scan until the queue next runs empty.

export class PendingReceipts {
  #times: number[] = [];
  #head = 0;
  /** receive times were added in non-decreasing order since the queue was last empty */
  #ordered = true;

  get size(): number {
    return this.#times.length - this.#head;
  }

  add(recvMs: number): void {
    const t = this.#times;
    if (this.#head === t.length) {
      t.length = 0;
      this.#head = 0;
      this.#ordered = true;
    } else if (recvMs < t[t.length - 1]!) this.#ordered = false;
    t.push(recvMs);
  }

  /** removes one pending receipt at `recvMs` (the front, unless the clock stepped back) */
  remove(recvMs: number): void {
    const t = this.#times;
    if (this.#head < t.length && t[this.#head] === recvMs) this.#head++;
    else {
      const i = t.indexOf(recvMs, this.#head);
      if (i < 0) return;
      t.splice(i, 1);
    }
    // the front is consumed as the queue moves: drop it now and then, not at every removal
    if (this.#head > 1024 && this.#head * 2 > t.length) {
      t.splice(0, this.#head);
      this.#head = 0;
    }
  }

  /** the oldest pending receive time, or Infinity when none is pending */
  floor(): number {
    const t = this.#times;
    if (this.#head === t.length) return Infinity;
    if (this.#ordered) return t[this.#head]!;
    let min = Infinity;
    for (let i = this.#head; i < t.length; i++) if (t[i]! < min) min = t[i]!;
    return min;
  }
}
