import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GwEvent } from '../../contract/index.ts';
import { createEnvelopeFactory } from '../../edge/envelope.ts';
import { EdgeErrorCodes } from '../../edge/errors.ts';
import { fileOutbox, memoryOutbox, type Outbox } from '../../edge/outbox.ts';

const T0 = Date.parse('2026-11-23T10:00:00.000Z');

function makeEvents(n: number): GwEvent[] {
  const f = createEnvelopeFactory({ store: 's1', node: 'door-1' });
  return Array.from({ length: n }, (_, i) => f.build('greetwatch.entry.v1', { sensor: 'front-beam', direction: 'in' }, T0 + i * 1000));
}
const ids = (o: Outbox) => [...o.pending()].map((e) => e.id);

describe('outbox', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-outbox-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const [name, make] of [
    ['memory', () => memoryOutbox()],
    ['file', () => fileOutbox(dir)],
  ] as const) {
    it(`${name}: keeps events in add order until acked; duplicate adds are ignored`, () => {
      const o = make();
      const ev = makeEvents(4);
      for (const e of ev) o.add(e);
      o.add(ev[1]!);
      expect(o.size()).toBe(4);
      expect(o.peek()?.id).toBe(ev[0]!.id);
      expect(o.ack(ev[1]!.id)).toBe(true);
      expect(o.ack(ev[1]!.id)).toBe(false);
      expect(ids(o)).toEqual([ev[0]!.id, ev[2]!.id, ev[3]!.id]);
      o.close();
    });
  }

  it('pending events survive a crash (reopen without close); acked ones do not come back', () => {
    const ev = makeEvents(6);
    const a = fileOutbox(dir);
    for (const e of ev) a.add(e);
    a.ack(ev[0]!.id);
    a.ack(ev[3]!.id);
    // no close(): as after kill -9
    const b = fileOutbox(dir);
    expect(ids(b)).toEqual([ev[1]!.id, ev[2]!.id, ev[4]!.id, ev[5]!.id]);
    expect([...b.pending()][0]).toEqual(ev[1]); // the whole event, as built
    b.close();
    const c = fileOutbox(dir);
    expect(c.size()).toBe(4);
    c.close();
  });

  it('skips a torn last line (write cut off by a crash) and keeps the rest', () => {
    const ev = makeEvents(3);
    const a = fileOutbox(dir);
    for (const e of ev) a.add(e);
    fs.appendFileSync(a.file, '{"add":{"specversion":"1.0","id":"01J');
    const b = fileOutbox(dir);
    expect(ids(b)).toEqual(ev.map((e) => e.id));
    expect(b.stats().badLines).toBe(1);
    b.add(makeEvents(1)[0]!);
    b.close();
    // compaction on open removed the torn tail for good
    const c = fileOutbox(dir);
    expect(c.size()).toBe(4);
    expect(c.stats().badLines).toBe(0);
    c.close();
  });

  it('compacts on open and when acks dominate', () => {
    const ev = makeEvents(40);
    const a = fileOutbox(dir, { compactAtLines: 20 });
    for (const e of ev) a.add(e);
    for (const e of ev.slice(0, 38)) a.ack(e.id);
    const lines = () => fs.readFileSync(a.file, 'utf8').split('\n').filter(Boolean).length;
    expect(a.stats().compactions).toBeGreaterThan(1); // once on open, again as acks piled up
    expect(lines()).toBeLessThan(20);
    expect(lines()).toBe(a.stats().journalLines);
    a.close();
    const b = fileOutbox(dir);
    expect(ids(b)).toEqual([ev[38]!.id, ev[39]!.id]);
    expect(fs.readFileSync(b.file, 'utf8').split('\n').filter(Boolean)).toHaveLength(2);
    b.close();
  });

  it('refuses a data dir another live process holds', () => {
    fs.writeFileSync(path.join(dir, 'outbox.lock'), String(process.ppid));
    expect(() => fileOutbox(dir)).toThrow(expect.objectContaining({ code: EdgeErrorCodes.OUTBOX_IO }));
  });

  it('takes over the lock of a dead process', () => {
    fs.writeFileSync(path.join(dir, 'outbox.lock'), '2147483646');
    const o = fileOutbox(dir);
    o.add(makeEvents(1)[0]!);
    o.close();
    expect(fs.existsSync(path.join(dir, 'outbox.lock'))).toBe(false);
  });
});
