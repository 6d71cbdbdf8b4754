import { describe, expect, it } from 'vitest';
import { decodeEvent, decodeStatus, isRealTime, MAX_JSON_DEPTH, type GwEvent } from '../../contract/index.ts';
import { engineFor } from '../../hub/engine/replay.ts';
import { payloadCase } from '../helpers/fuzz.ts';
import { loadedStore } from '../helpers/store-config.ts';

// What `npm run fuzz` found in the validator, each kept as a test. Before these fixes every
// payload below was accepted as a valid event.

const now = Date.now();
const base = {
  specversion: '1.0',
  id: 'e-1',
  source: '/stores/fz/nodes/fuzz',
  type: 'greetwatch.door.v1',
  time: new Date(now).toISOString(),
  bootid: 'b1',
  seq: 1,
  data: { sensor: 'door', state: 'open' },
};
const text = (o: Record<string, unknown>) => JSON.stringify({ ...base, ...o });
const nested = (n: number) => '['.repeat(n) + ']'.repeat(n);
const expect_ = { expect: { store: 'fz', node: 'fuzz' } };

describe('fuzz regressions (validator)', () => {
  it('JSON nested deeper than MAX_JSON_DEPTH is refused before it is parsed', () => {
    // 5,000 levels passed the schema (extra properties are allowed), then JSON.stringify in the
    // trace recorder overflowed the stack and the event was neither accepted nor counted
    for (const n of [MAX_JSON_DEPTH, 5000]) {
      const inData = text({ data: { sensor: 'door', state: 'open', x: 0 } }).replace('"x":0', `"x":${nested(n)}`);
      const inTop = text({ x: 0 }).replace('"x":0', `"x":${'{"a":'.repeat(n)}1${'}'.repeat(n)}`);
      for (const t of [inData, inTop]) {
        const v = decodeEvent(t, expect_);
        expect(v).toMatchObject({ ok: false, code: 'GW_ERR_EVENT_JSON' });
        if (!v.ok) expect(v.reason).toMatch(/nests deeper/);
      }
    }
    // within the limit (the event's own 2 levels included) it is an extension like any other
    const ok = text({ x: 0 }).replace('"x":0', `"x":${nested(MAX_JSON_DEPTH - 1)}`);
    expect(decodeEvent(ok, expect_).ok).toBe(true);
    // brackets inside strings are text, not nesting
    expect(decodeEvent(text({ id: '['.repeat(100) }), expect_).ok).toBe(true);
    expect(decodeEvent(text({ id: '\\"[[[[' }), expect_).ok).toBe(true);
  });

  it("a node's status is held to the same depth (its clock extra reached /live and the stream)", () => {
    const online = JSON.stringify({ state: 'online', bootid: 'b', fw: 'f', cfghash: 'h', time: base.time, clock: { sync: 'synced', source: 'chrony', x: 0 } });
    expect(decodeStatus(online).ok).toBe(true);
    expect(decodeStatus(online.replace('"x":0', `"x":${nested(5000)}`))).toMatchObject({ ok: false, code: 'GW_ERR_EVENT_JSON' });
  });

  it('bytes that are not UTF-8 are refused, not replaced with U+FFFD', () => {
    const b = Buffer.from(text({ id: 'e-1' }));
    const at = b.indexOf('e-1') + 1;
    for (const junk of [[0xff], [0xc0, 0x80], [0x80], [0xed, 0xa0, 0x80], [0xfe, 0xff]]) {
      const v = decodeEvent(Buffer.concat([b.subarray(0, at), Buffer.from(junk), b.subarray(at)]), expect_);
      expect(v).toMatchObject({ ok: false, code: 'GW_ERR_EVENT_JSON', reason: 'payload is not UTF-8 text' });
    }
    // real UTF-8 stays fine, and a BOM is still refused as before
    expect(decodeEvent(Buffer.from(text({ id: 'tökén-✓' })), expect_).ok).toBe(true);
    expect(decodeEvent(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), b]), expect_)).toMatchObject({ ok: false, code: 'GW_ERR_EVENT_JSON' });
  });

  it('seq must be an exact integer (1e308 and 2^53 + 1 were taken)', () => {
    for (const seq of ['1e308', '9007199254740992', '9007199254740993', '18014398509481984']) {
      const v = decodeEvent(text({ seq: 0 }).replace('"seq":0', `"seq":${seq}`), expect_);
      expect(v).toMatchObject({ ok: false, code: 'GW_ERR_EVENT_ENVELOPE' });
      if (!v.ok) expect(v.reason).toMatch(/^seq:/);
    }
    expect(decodeEvent(text({ seq: Number.MAX_SAFE_INTEGER }), expect_).ok).toBe(true);
  });

  it('times must be real calendar dates (Date.parse rolls 24:00 and day 31 of November over)', () => {
    const d = new Date(now);
    const ym = `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
    const ymd = `${ym}-${String(d.getUTCDate()).padStart(2, '0')}`;
    const impossible = [`${ymd}T24:00:00Z`, `${ym}-32T10:00:00Z`, `${ym}-00T10:00:00Z`, '2026-11-31T10:00:00Z', '2026-02-29T10:00:00Z', `${ymd}T10:00:60Z`, `${ymd}T10:00:00+24:00`, `${ymd}T10:00:00+23:60`];
    for (const t of impossible) {
      expect(isRealTime(t)).toBe(false);
      for (const field of ['time', 'senttime', 'recvtime']) {
        const v = decodeEvent(text({ [field]: t }), expect_);
        expect(v).toMatchObject({ ok: false, code: 'GW_ERR_EVENT_ENVELOPE', reason: `${field}: not a real date: ${t}` });
      }
    }
    for (const t of ['2028-02-29T23:59:59.999999999Z', '2000-02-29T00:00:00Z', '2026-11-23T10:15:02.123+14:00', '2026-12-31T23:59:59-12:00', '0001-01-01T00:00:00Z']) expect(isRealTime(t)).toBe(true);
    expect(isRealTime('1900-02-29T00:00:00Z')).toBe(false);
  });

  it('whatever the validator accepts, the trace can write back (JSON.stringify never throws)', () => {
    // the property behind the first bug, over the fuzzer's own payloads
    for (let i = 0; i < 5000; i++) {
      const c = payloadCase(7, i, 'fuzz', now);
      const v = decodeEvent(c.bytes, expect_);
      if (v.ok) expect(() => JSON.stringify({ ...v.value, recvtime: base.time })).not.toThrow();
    }
  });
});

describe('fuzz regressions (engine)', () => {
  // npm run fuzz, kind bootid-new: a node sending a fresh boot id with every event gave each
  // one boot counters and a clock of its own, never forgotten. The engine keeps the latest
  // boots per node (older ones' gaps folded into one sum) and forgets their clocks.
  it('a node cannot grow the engine without bound by sending new boot ids', () => {
    const cfg = loadedStore({ store: { id: 'fz' }, nodes: [{ id: 'fuzz' }] });
    const engine = engineFor(cfg);
    for (let i = 0; i < 5000; i++) {
      // every boot but the first has one seq missing (seq 2 of a fresh boot): 4999 gaps in all
      const ev: GwEvent = { specversion: '1.0', id: `e${i}`, source: '/stores/fz/nodes/fuzz', type: 'greetwatch.door.v1', time: new Date(now + i).toISOString(), bootid: `boot-${i}`, seq: i === 0 ? 1 : 2, data: { sensor: 'door', state: 'open' } };
      engine.ingest(ev, now + i);
    }
    const c = engine.nodeCounters('fuzz');
    expect(c.boots.size).toBeLessThanOrEqual(64);
    let lost = c.lostRetired;
    for (const b of c.boots.values()) lost += b.max - b.seen;
    expect(lost).toBe(4999);
    expect(engine.clockOffset('fuzz')).toBe(0);
  });
});
