/**
 * The event ids one source sent within the de-duplication window, oldest first, each with
 * its receive minute: what answers "seen before?" for (source, id) (CONTRACT.md).
 *
 * Our nodes' ids are ULIDs. A canonical one (26 characters of Crockford's alphabet) is held
 * as its 130 bits in three doubles of a typed ring, indexed by an open-addressing table:
 * the garbage collector never scans these entries, and each costs 40–80 bytes (ring and index
 * grow by doubling) instead of a string, a Set slot and two queue slots. The mapping is one
 * to one on canonical strings, so equal words mean equal ids. Any other id (a lower-case
 * ULID, a UUID, a bridge's own scheme) is kept as a string; the two kinds never equal each other.
 */

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** the 5-bit value of each canonical character code, -1 for the rest */
const DIGIT = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DIGIT[ALPHABET.charCodeAt(i)] = i;

const ULID_LENGTH = 26;
/** entries a ring starts with and never shrinks below: 2.5 KB a source, as a hub has dozens of them idle */
const MIN_CAPACITY = 64;
const TWO_32 = 4_294_967_296;
/** per process, as V8 seeds its string hashes: ids chosen to collide cannot be precomputed */
const SEED = (Math.random() * TWO_32) | 0;

export class SeenIds {
  // ULIDs: ring of entries [head, head + count), capacity a power of two
  #words = new Float64Array(3 * MIN_CAPACITY);
  #minutes = new Float64Array(MIN_CAPACITY);
  #head = 0;
  #count = 0;
  /** ring position + 1 per slot, 0 empty; twice the ring's capacity, so at most half full */
  #slots = new Int32Array(2 * MIN_CAPACITY);
  // any other id: a Set and its arrival queue from #otherHead on
  #other = new Set<string>();
  #otherIds: string[] = [];
  #otherMinutes: number[] = [];
  #otherHead = 0;
  // the decoded id of the last add, kept in fields: no array per call
  #w0 = 0;
  #w1 = 0;
  #w2 = 0;

  get size(): number {
    return this.#count + this.#other.size;
  }

  /** true when `id` is new (it is then held with `minute`), false when it is held already */
  add(id: string, minute: number): boolean {
    if (!this.#decode(id)) return this.#addOther(id, minute);
    const w0 = this.#w0;
    const w1 = this.#w1;
    const w2 = this.#w2;
    const words = this.#words;
    let slots = this.#slots;
    let mask = slots.length - 1;
    const h = hash(w0, w1, w2);
    let s = h & mask;
    for (let e = slots[s]!; e !== 0; e = slots[s]!) {
      const o = 3 * (e - 1);
      if (words[o] === w0 && words[o + 1] === w1 && words[o + 2] === w2) return false;
      s = (s + 1) & mask;
    }
    const cap = this.#minutes.length;
    if (this.#count === cap) {
      this.#resize(2 * cap);
      slots = this.#slots;
      mask = slots.length - 1;
      s = h & mask;
      while (slots[s] !== 0) s = (s + 1) & mask;
    }
    const ringMask = this.#minutes.length - 1;
    const p = (this.#head + this.#count) & ringMask;
    const o = 3 * p;
    this.#words[o] = w0;
    this.#words[o + 1] = w1;
    this.#words[o + 2] = w2;
    this.#minutes[p] = minute;
    slots[s] = p + 1;
    this.#count++;
    return true;
  }

  /** forgets the ids received before `minute`; returns how many */
  forgetBefore(minute: number): number {
    let n = 0;
    const minutes = this.#minutes;
    const ringMask = minutes.length - 1;
    while (this.#count > 0 && minutes[this.#head]! < minute) {
      this.#unindex(this.#head);
      this.#head = (this.#head + 1) & ringMask;
      this.#count--;
      n++;
    }
    // a burst's ring is given back once it is mostly empty
    let cap = minutes.length;
    while (cap > MIN_CAPACITY && this.#count * 4 <= cap) cap >>= 1;
    if (cap < minutes.length) this.#resize(cap);
    return n + this.#forgetOther(minute);
  }

  /** the 26 characters' 5-bit values into #w0..#w2 (10, 10 and 6 of them: exact in a double) */
  #decode(id: string): boolean {
    if (id.length !== ULID_LENGTH) return false;
    // `bad` turns negative on a character outside the alphabet (DIGIT -1) or above 127:
    // one test at the end instead of one per character
    let bad = 0;
    let w0 = 0;
    let w1 = 0;
    let w2 = 0;
    for (let i = 0; i < 10; i++) {
      const c = id.charCodeAt(i);
      const v = DIGIT[c & 127]!;
      bad |= v | (127 - c);
      w0 = w0 * 32 + v;
    }
    for (let i = 10; i < 20; i++) {
      const c = id.charCodeAt(i);
      const v = DIGIT[c & 127]!;
      bad |= v | (127 - c);
      w1 = w1 * 32 + v;
    }
    for (let i = 20; i < ULID_LENGTH; i++) {
      const c = id.charCodeAt(i);
      const v = DIGIT[c & 127]!;
      bad |= v | (127 - c);
      w2 = w2 * 32 + v;
    }
    if (bad < 0) return false;
    this.#w0 = w0;
    this.#w1 = w1;
    this.#w2 = w2;
    return true;
  }

  /** removes ring position `p` from the index: backward-shift deletion keeps every probe run unbroken */
  #unindex(p: number): void {
    const slots = this.#slots;
    const mask = slots.length - 1;
    const words = this.#words;
    const o = 3 * p;
    let s = hash(words[o]!, words[o + 1]!, words[o + 2]!) & mask;
    while (slots[s] !== p + 1) s = (s + 1) & mask;
    let hole = s;
    for (let j = (hole + 1) & mask; slots[j] !== 0; j = (j + 1) & mask) {
      const q = 3 * (slots[j]! - 1);
      const home = hash(words[q]!, words[q + 1]!, words[q + 2]!) & mask;
      // the entry at j may fill the hole unless its home lies cyclically in (hole, j]
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        slots[hole] = slots[j]!;
        hole = j;
      }
    }
    slots[hole] = 0;
  }

  /** a ring of `cap` entries (a power of two, at least the count) with the entries in order from 0 */
  #resize(cap: number): void {
    const words = new Float64Array(3 * cap);
    const minutes = new Float64Array(cap);
    const oldMask = this.#minutes.length - 1;
    for (let i = 0; i < this.#count; i++) {
      const p = (this.#head + i) & oldMask;
      words[3 * i] = this.#words[3 * p]!;
      words[3 * i + 1] = this.#words[3 * p + 1]!;
      words[3 * i + 2] = this.#words[3 * p + 2]!;
      minutes[i] = this.#minutes[p]!;
    }
    const slots = new Int32Array(2 * cap);
    const mask = slots.length - 1;
    for (let i = 0; i < this.#count; i++) {
      let s = hash(words[3 * i]!, words[3 * i + 1]!, words[3 * i + 2]!) & mask;
      while (slots[s] !== 0) s = (s + 1) & mask;
      slots[s] = i + 1;
    }
    this.#words = words;
    this.#minutes = minutes;
    this.#slots = slots;
    this.#head = 0;
  }

  #addOther(id: string, minute: number): boolean {
    const held = this.#other.size;
    this.#other.add(id);
    if (this.#other.size === held) return false;
    this.#otherIds.push(id);
    this.#otherMinutes.push(minute);
    return true;
  }

  #forgetOther(minute: number): number {
    const ids = this.#otherIds;
    const minutes = this.#otherMinutes;
    const from = this.#otherHead;
    let h = from;
    while (h < ids.length && minutes[h]! < minute) this.#other.delete(ids[h++]!);
    // drop the forgotten front once it is most of the queue (amortised O(1) per id)
    if (h > 1024 && h * 2 > ids.length) {
      this.#otherIds = ids.slice(h);
      this.#otherMinutes = minutes.slice(h);
      this.#otherHead = 0;
    } else this.#otherHead = h;
    return h - from;
  }
}

/** mixes the three words' 32-bit halves (words are below 2^50: `| 0` takes the low half) */
function hash(w0: number, w1: number, w2: number): number {
  let h = SEED;
  h = Math.imul(h ^ (w0 | 0), 0x9e3779b1);
  h = Math.imul(h ^ ((w0 / TWO_32) | 0), 0x85ebca6b);
  h = Math.imul(h ^ (w1 | 0), 0xc2b2ae35);
  h = Math.imul(h ^ ((w1 / TWO_32) | 0), 0x27d4eb2f);
  h = Math.imul(h ^ (w2 | 0), 0x165667b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 13);
}
