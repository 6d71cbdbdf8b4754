import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { decodeTime, isValid } from 'ulid';
import { validateEvent } from '../../contract/index.ts';
import { createEnvelopeFactory, newBootId } from '../../edge/envelope.ts';
import { EdgeErrorCodes } from '../../edge/errors.ts';

const T0 = Date.parse('2026-11-23T10:15:02.123Z');

describe('envelope', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('builds contract-valid CloudEvents with ULID ids, gapless seq and the edge time', () => {
    const f = createEnvelopeFactory({ store: 's1', node: 'door-1' });
    const events = [];
    for (let i = 0; i < 50; i++) {
      // edge times in the past (debounce lag, buffering): time is the edge, not the build time
      events.push(f.build('greetwatch.entry.v1', { sensor: 'front-beam', direction: i % 2 ? 'out' : 'in' }, T0 - 20 + i));
      events.push(f.build('greetwatch.greet.v1', { button: 'fob-anna', staff: 'anna' }, T0 + i));
    }
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    for (const e of events) {
      const v = validateEvent(e, { expect: { store: 's1', node: 'door-1' } });
      expect(v.ok, v.ok ? '' : v.reason).toBe(true);
      expect(e).toMatchObject({ specversion: '1.0', source: '/stores/s1/nodes/door-1', datacontenttype: 'application/json', bootid: f.bootid });
      expect(isValid(e.id)).toBe(true);
      expect(e.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    }
    expect(events[0]!.time).toBe('2026-11-23T10:15:02.103Z');
    expect(events[1]!.time).toBe('2026-11-23T10:15:02.123Z');
    // unique and increasing even though all were built in the same millisecond
    const ids = events.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    expect(decodeTime(ids[0]!)).toBe(T0);
  });

  it('bootid is 8 base36 chars and differs per factory (process start)', () => {
    const a = createEnvelopeFactory({ store: 's1', node: 'n1' });
    const b = createEnvelopeFactory({ store: 's1', node: 'n1' });
    expect(a.bootid).toMatch(/^[0-9a-z]{8}$/);
    expect(a.bootid).not.toBe(b.bootid);
    expect(newBootId()).toMatch(/^[0-9a-z]{8}$/);
  });

  it('an event that breaks the contract throws EVENT_BUILD and uses no seq (no gap)', () => {
    const f = createEnvelopeFactory({ store: 's1', node: 'door-1' });
    f.build('greetwatch.greet.v1', { button: 'counter-btn' }, T0);
    expect(() => f.build('greetwatch.greet.v1', { button: 'Not An Id' }, T0)).toThrow(
      expect.objectContaining({ code: EdgeErrorCodes.EVENT_BUILD }),
    );
    expect(() => f.build('greetwatch.greet.v1', { button: 'counter-btn' }, Number.NaN)).toThrow(
      expect.objectContaining({ code: EdgeErrorCodes.EVENT_BUILD }),
    );
    expect(f.build('greetwatch.greet.v1', { button: 'counter-btn' }, T0).seq).toBe(2);
  });
});
