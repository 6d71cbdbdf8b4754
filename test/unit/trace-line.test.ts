import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { GwEvent } from '../../contract/index.ts';
import { traceLine, withRecvtime } from '../../hub/trace-recorder.ts';

// A trace line is the event with `recvtime` added (CONTRACT.md "Replay"): traceLine keeps the
// text as it came where it can, withRecvtime serialises the event; withRecvtime builds
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

describe('traceLine', () => {
  const t = '2026-12-01T10:00:00.000Z';
  // JSON text of an object as a node might send it: compact, indented (line breaks between
  // tokens), or padded with the other whitespace JSON allows
  const texts = fc
    .tuple(fc.dictionary(fc.string(), fc.jsonValue()), fc.constantFrom('compact', 'indented', 'padded', 'crlf'))
    .map(([obj, style]) => {
      const compact = JSON.stringify(obj);
      if (style === 'compact') return compact;
      if (style === 'indented') return JSON.stringify(obj, null, 2);
      if (style === 'crlf') return JSON.stringify(obj, null, 1).replace(/\n/g, '\r\n');
      return ` \t${compact.replace(/,"/g, ' , "')}\t `;
    });

  it('reads back as the event with recvtime, on one line, whatever the text', () => {
    fc.assert(
      fc.property(texts, (text) => {
        const ev = JSON.parse(text) as GwEvent;
        const line = traceLine(ev, t, text);
        expect(line).not.toMatch(/[\r\n]/);
        expect(JSON.parse(line)).toEqual(JSON.parse(copied(ev, t)));
      }),
      { numRuns: 2000 },
    );
  });
  it('keeps one-line text as it came, and falls back where it cannot', () => {
    const wire = '{"id":"a", "seq":1.0,"data":{"x":[1, 2]}}  ';
    expect(traceLine(JSON.parse(wire) as GwEvent, t, wire)).toBe(`{"id":"a", "seq":1.0,"data":{"x":[1, 2]},"recvtime":"${t}"}`);
    // duplicate keys: the last wins when the hub parsed it, and again when the trace is read
    const dup = '{"id":"a","id":"b"}';
    expect((JSON.parse(traceLine(JSON.parse(dup) as GwEvent, t, dup)) as { id: string }).id).toBe('b');
    for (const text of ['{}', ' { } ', '{"recvtime":"x","id":"a"}', '{\n"id":"a"}', '{"id":"a"}\r']) {
      const ev = JSON.parse(text) as GwEvent;
      expect(traceLine(ev, t, text), text).toBe(withRecvtime(ev, t));
    }
  });
});
