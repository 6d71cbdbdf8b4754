import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCmd, decodeEvent, decodeStatus, isId, parseTopic, topics, validateEvent, EVENT_TYPES } from '../../contract/index.ts';

// The runtime validator of the one contract module (CONTRACT.md "Event envelope").

const good = {
  specversion: '1.0',
  id: '01JDB7Q3ZC8K9V2M4N6P8R0T2W',
  source: '/stores/s1/nodes/door-1',
  type: 'greetwatch.entry.v1',
  time: '2026-11-23T10:15:02.123Z',
  bootid: 'f3k9x2',
  seq: 42,
  datacontenttype: 'application/json',
  data: { sensor: 'front-beam', direction: 'in' },
};
const without = (k: keyof typeof good) => Object.fromEntries(Object.entries(good).filter(([key]) => key !== k));

describe('validateEvent', () => {
  it('accepts the contract example, with extension attributes and extra data fields', () => {
    expect(validateEvent(good).ok).toBe(true);
    expect(validateEvent({ ...good, recvtime: '2026-11-23T10:15:02.130Z', traceparent: 'x', data: { ...good.data, extra: 1 } }).ok).toBe(true);
  });

  it('accepts every event type with its data', () => {
    const data: Record<string, unknown> = {
      'greetwatch.entry.v1': { sensor: 'b', direction: 'out' },
      'greetwatch.door.v1': { sensor: 'd', state: 'open' },
      'greetwatch.presence.v1': { sensor: 'p', zone: 'z', state: 'on', distanceCm: 80 },
      'greetwatch.greet.v1': { button: 'b', staff: 'anna' },
      'greetwatch.staffpass.v1': { button: 'b' },
      'greetwatch.fault.v1': { sensor: 's', kind: 'stuck', detail: 'low for 10 min' },
    };
    for (const type of EVENT_TYPES) expect(validateEvent({ ...good, type, data: data[type] }), type).toMatchObject({ ok: true });
  });

  it.each([
    ['id', without('id'), 'GW_ERR_EVENT_ENVELOPE', /^id: /],
    ['specversion', { ...good, specversion: '0.3' }, 'GW_ERR_EVENT_ENVELOPE', /^specversion: /],
    ['time format', { ...good, time: '23.11.2026 10:15' }, 'GW_ERR_EVENT_ENVELOPE', /^time: /],
    ['impossible time', { ...good, time: '2026-13-45T10:15:02.123Z' }, 'GW_ERR_EVENT_ENVELOPE', /^time: not a real date/],
    ['seq 0', { ...good, seq: 0 }, 'GW_ERR_EVENT_ENVELOPE', /^seq: /],
    ['seq not integer', { ...good, seq: 1.5 }, 'GW_ERR_EVENT_ENVELOPE', /^seq: /],
    ['bootid', without('bootid'), 'GW_ERR_EVENT_ENVELOPE', /^bootid: /],
    ['source shape', { ...good, source: 'door-1' }, 'GW_ERR_EVENT_SOURCE', /^source: /],
    ['unknown type', { ...good, type: 'greetwatch.hello.v1' }, 'GW_ERR_EVENT_TYPE', /^type: unknown event type/],
    ['data enum', { ...good, data: { sensor: 'b', direction: 'sideways' } }, 'GW_ERR_EVENT_DATA', /^data\.direction: /],
    ['data id', { ...good, data: { sensor: 'Front Beam', direction: 'in' } }, 'GW_ERR_EVENT_DATA', /^data\.sensor: /],
    ['data missing', without('data'), 'GW_ERR_EVENT_ENVELOPE', /^data: /],
    ['not an object', [1, 2], 'GW_ERR_EVENT_ENVELOPE', /./],
  ])('rejects a bad %s with its code and the field named', (_what, value, code, reason) => {
    const v = validateEvent(value);
    expect(v.ok).toBe(false);
    if (!v.ok) {
      expect(v.code).toBe(code);
      expect(v.reason).toMatch(reason);
    }
  });

  it('rejects an event whose source is another node than its topic', () => {
    const v = validateEvent(good, { expect: { store: 's1', node: 'door-2' } });
    expect(v).toMatchObject({ ok: false, code: 'GW_ERR_EVENT_SOURCE' });
    expect(validateEvent(good, { expect: { store: 's1', node: 'door-1' } }).ok).toBe(true);
  });

  it('decodes JSON text and says when it is not JSON', () => {
    expect(decodeEvent(JSON.stringify(good)).ok).toBe(true);
    expect(decodeEvent(Buffer.from(JSON.stringify(good))).ok).toBe(true);
    expect(decodeEvent('{"specversion":')).toMatchObject({ ok: false, code: 'GW_ERR_EVENT_JSON' });
  });
});

describe('topics', () => {
  it('builds and parses the contract topics', () => {
    expect(topics.events('s1', 'door-1')).toBe('greetwatch/v1/s1/door-1/events');
    expect(topics.visits('s1')).toBe('greetwatch/v1/s1/visits');
    expect(parseTopic('greetwatch/v1/s1/door-1/status')).toEqual({ kind: 'node', store: 's1', node: 'door-1', channel: 'status' });
    expect(parseTopic('greetwatch/v1/s1/visits')).toEqual({ kind: 'visits', store: 's1' });
    for (const bad of ['greetwatch/v2/s1/n/events', 'greetwatch/v1/S1/n/events', 'greetwatch/v1/s1/n/other', 'greetwatch/v1/s1/n/events/x', 'other/topic']) {
      expect(parseTopic(bad), bad).toBeNull();
    }
  });
  it('parseTopic reads any topic as splitting it at its slashes would', () => {
    const reference = (topic: string) => {
      if (!topic.startsWith('greetwatch/v1/')) return null;
      const parts = topic.slice('greetwatch/v1/'.length).split('/');
      if (parts.length === 2 && parts[1] === 'visits' && isId(parts[0])) return { kind: 'visits', store: parts[0] };
      if (parts.length !== 3) return null;
      const [store, node, channel] = parts as [string, string, string];
      if (!isId(store) || !isId(node) || !['events', 'status', 'config', 'cmd'].includes(channel)) return null;
      return { kind: 'node', store, node, channel };
    };
    const piece = fc.oneof(fc.constantFrom('s1', 'door-1', 'events', 'status', 'config', 'cmd', 'visits', 'Visits', '', '-x', 'a'.repeat(33)), fc.string({ maxLength: 6 }));
    const topic = fc.oneof(
      fc.array(piece, { maxLength: 5 }).map((ps) => ['greetwatch', 'v1', ...ps].join('/')),
      fc.string({ maxLength: 40 }),
      fc.array(fc.constantFrom('greetwatch', 'v1', 's1', 'n', 'events', 'visits', '', '/'), { maxLength: 7 }).map((ps) => ps.join('/')),
    );
    fc.assert(
      fc.property(topic, (t) => {
        expect(parseTopic(t), t).toEqual(reference(t));
      }),
      { numRuns: 5000 },
    );
  });
});

describe('status and cmd payloads', () => {
  it('validates node status and the Last Will', () => {
    expect(decodeStatus('{"state":"online","bootid":"b","fw":"1.0","cfghash":"abc","time":"2026-11-23T10:00:00.000Z"}').ok).toBe(true);
    expect(decodeStatus('{"state":"offline"}').ok).toBe(true);
    expect(decodeStatus('{"state":"sleepy"}').ok).toBe(false);
  });
  it('validates indicator commands', () => {
    expect(decodeCmd('{"type":"indicate","level":"warn"}').ok).toBe(true);
    expect(decodeCmd('{"type":"indicate","level":"purple"}')).toMatchObject({ ok: false, code: 'GW_ERR_EVENT_DATA' });
  });
});
