/**
 * Values under increasing numeric ids, oldest first, taken mostly from the front: what the
 * visit machine keeps of the greets waiting for a party (CONTRACT.md `greetLeadS`). A copy is
 * two array copies, where a Map is copied entry by entry, and the live view copies the machine
 * at each of its checkpoints (README "Live view").
 */
export class IdQueue<V> {
  #ids: number[] = [];
  /** undefined: deleted (the entry stays until the front passes it) */
  #values: (V | undefined)[] = [];
  #head = 0;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** adds `value` under `id`, which must be greater than every id added before */
  push(id: number, value: V): void {
    const n = this.#ids.length;
    if (n > this.#head && !(id > this.#ids[n - 1]!)) throw new RangeError(`IdQueue: id ${id} is not greater than ${this.#ids[n - 1]}`);
    this.#ids.push(id);
    this.#values.push(value);
    this.#size++;
  }

  get(id: number): V | undefined {
    const i = this.#find(id);
    return i < 0 ? undefined : this.#values[i];
  }

  has(id: number): boolean {
    return this.get(id) !== undefined;
  }

  /** the oldest id held, if any */
  first(): number | undefined {
    return this.#size === 0 ? undefined : this.#ids[this.#head];
  }

  delete(id: number): boolean {
    const i = this.#find(id);
    if (i < 0 || this.#values[i] === undefined) return false;
    this.#values[i] = undefined;
    this.#size--;
    // the front moves past what is deleted, so first() is the oldest held
    const values = this.#values;
    let h = this.#head;
    while (h < values.length && values[h] === undefined) h++;
    if (h > 1024 && h * 2 > values.length) {
      this.#ids = this.#ids.slice(h);
      this.#values = values.slice(h);
      this.#head = 0;
    } else if (h === values.length) {
      this.#ids = [];
      this.#values = [];
      this.#head = 0;
    } else this.#head = h;
    return true;
  }

  /** an independent copy (values are shared: they are never changed in place) */
  clone(): IdQueue<V> {
    const c = new IdQueue<V>();
    c.#ids = this.#ids.slice(this.#head);
    c.#values = this.#values.slice(this.#head);
    c.#size = this.#size;
    return c;
  }

  /** index of `id` in [head, length), or -1: the ids are increasing */
  #find(id: number): number {
    const ids = this.#ids;
    let lo = this.#head;
    let hi = ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ids[mid]! < id) lo = mid + 1;
      else hi = mid;
    }
    return lo < ids.length && ids[lo] === id ? lo : -1;
  }
}
