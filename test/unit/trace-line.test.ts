import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { GwEvent } from '../../contract/index.ts';
import { withRecvtime } from '../../hub/trace-recorder.ts';

// A trace line is the event with `recvtime` added (CONTRACT.md "Replay"): withRecvtime builds
// it without copying the event and must give exactly what the copy would.
const copied = (ev: object, recvtime: string) => JSON.stringify({ ...ev, recvtime });

describe('withRecvtime', () => {
  it('equals JSON.stringify of the event with recvtime added, for any JSON object', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.date({ noInvalidDate: true }), (obj, d) => {
        const ev = JSON.parse(JSON.stringify(obj)) as GwEvent;
        const t = d.toISOString();
        expect(withRecvtime(ev, t)).toBe(copied(ev, t));
      }),
      { numRuns: 2000 },
    );
  });
  it('keeps an own recvtime in its place, and copes with __proto__, numeric keys and an empty object', () => {
    const t = '2026-12-01T10:00:00.000Z';
    for (const text of ['{}', '{"recvtime":"x","id":"a"}', '{"__proto__":{"a":1},"id":"b"}', '{"2":1,"id":"c","1":2}', '{"id":"\\u2028\\ud800"}']) {
      const ev = JSON.parse(text) as GwEvent;
      const line = withRecvtime(ev, t);
      expect(line, text).toBe(copied(ev, t));
      expect((JSON.parse(line) as { recvtime: string }).recvtime).toBe(t);
    }
  });
});
