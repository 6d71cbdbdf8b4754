import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SeenIds } from '../../hub/engine/seen-ids.ts';
import { ulidAt } from '../helpers/store-sim.ts';

// SeenIds answers "seen before?" for one source's ids (CONTRACT.md: (source, id) is the
// de-duplication key). It must agree with a plain Map of id → receive minute.

/** a reference: every id held with its minute; forgetting drops those received before */
class Model {
  readonly held = new Map<string, number>();
  add(id: string, minute: number): boolean {
    if (this.held.has(id)) return false;
    this.held.set(id, minute);
    return true;
  }
  forgetBefore(minute: number): number {
    let n = 0;
    for (const [id, m] of this.held)
      if (m < minute) {
        this.held.delete(id);
        n++;
      }
    return n;
  }
}

/** a deterministic generator, so a failure names its seed */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1_103_515_245) + 12_345) >>> 0;
    return s / 2 ** 32;
  };
}

describe('SeenIds', () => {
  it('tells ULIDs apart from the strings that only look alike', () => {
    const seen = new SeenIds();
    const id = '01KE6JXQQE0000000000000001';
    expect(seen.add(id, 0)).toBe(true);
    expect(seen.add(id, 0)).toBe(false);
    // another id per CloudEvents (ids compare as strings), though Crockford would decode them alike
    for (const other of [id.toLowerCase(), '01KE6JXQQEOOOOOOOOOOOOOOO1', '01KE6JXQQE000000000000000I', `${id} `, id.slice(1), '\u00d81KE6JXQQE0000000000000001'])
      expect(seen.add(other, 0), other).toBe(true);
    for (const other of [id.toLowerCase(), '01KE6JXQQEOOOOOOOOOOOOOOO1']) expect(seen.add(other, 0), other).toBe(false);
    // ids that differ in one character of any of the three words
    for (const i of [0, 9, 10, 19, 20, 25]) {
      const other = id.slice(0, i) + (id[i] === 'Z' ? 'Y' : 'Z') + id.slice(i + 1);
      expect(seen.add(other, 0), other).toBe(true);
    }
    expect(seen.size).toBe(13);
  });

  it('agrees with a Map over random adds and forgets, ULIDs and other ids mixed', () => {
    const idArb = fc.oneof(
      fc.constantFrom(...Array.from({ length: 40 }, (_, i) => `01KE6JXQQE${String(i).padStart(16, '0')}`)),
      fc.stringMatching(/^[0-9A-HJKMNP-TV-Z]{26}$/),
      fc.constantFrom('e000001', 'e000002', '01ke6jxqqe0000000000000001', 'urn:uuid:1'),
      fc.string({ maxLength: 30 }),
    );
    const stepArb = fc.oneof(
      { weight: 8, arbitrary: fc.record({ op: fc.constant('add' as const), id: idArb, dm: fc.integer({ min: 0, max: 3 }) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('forget' as const), back: fc.integer({ min: 0, max: 12 }) }) },
    );
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 300 }), (steps) => {
        const seen = new SeenIds();
        const model = new Model();
        let minute = 1_000;
        for (const s of steps) {
          if (s.op === 'add') {
            minute += s.dm;
            expect(seen.add(s.id, minute)).toBe(model.add(s.id, minute));
          } else expect(seen.forgetBefore(minute - s.back)).toBe(model.forgetBefore(minute - s.back));
          expect(seen.size).toBe(model.held.size);
        }
      }),
    );
  });

  it('keeps agreeing through growth, a sliding window and shrinking back (100,000 ids)', () => {
    const rand = rng(20_261_201);
    const seen = new SeenIds();
    const model = new Model();
    const sent: string[] = [];
    let t = Date.UTC(2026, 11, 1);
    for (let i = 0; i < 100_000; i++) {
      // 20 ids a minute, then 1,200 a minute for 25 minutes: the ring grows past 30,000 entries and back
      t += i > 40_000 && i < 70_000 ? 50 : 3_000;
      const minute = Math.floor(t / 60_000);
      const r = rand();
      // mostly new ids; some repeat a recent one (a duplicate), some one forgotten long ago
      const id = r < 0.05 && sent.length > 0 ? sent[sent.length - 1 - Math.floor(rand() * Math.min(sent.length, 3_000))]! : r < 0.06 && sent.length > 0 ? sent[Math.floor(rand() * sent.length)]! : ulidAt(t, rand);
      sent.push(id);
      // expect() per id would take most of the test's time: the first disagreement fails it
      if (seen.add(id, minute) !== model.add(id, minute)) expect.fail(`add #${i} (${id}) disagrees with the Map`);
      if (i % 500 === 0) {
        expect(seen.forgetBefore(minute - 60), `forget at #${i}`).toBe(model.forgetBefore(minute - 60));
        expect(seen.size).toBe(model.held.size);
      }
    }
    const last = Math.floor(t / 60_000);
    expect(seen.forgetBefore(last + 1)).toBe(model.forgetBefore(last + 1));
    expect(seen.size).toBe(0);
    // empty and shrunk, it still holds and finds
    const again = ulidAt(t, rand);
    expect(seen.add(again, last)).toBe(true);
    expect(seen.add(again, last)).toBe(false);
  });
});
