import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GwEvent } from '../../contract/index.ts';
import { createEnvelopeFactory } from '../../edge/envelope.ts';
import { EdgeErrorCodes } from '../../edge/errors.ts';
import {
  DROP_LOG_EVERY_MS,
  LOCK_STALE_MS,
  fileOutbox,
  memoryOutbox,
  openFileOutbox,
  type FileOutbox,
  type FileOutboxOptions,
  type Outbox,
} from '../../edge/outbox.ts';
import { waitFor } from '../helpers/wait.ts';

const T0 = Date.parse('2026-11-23T10:00:00.000Z');
const ID = { store: 's1', node: 'door-1' } as const;

function makeEvents(n: number, who: { store: string; node: string } = ID): GwEvent[] {
  const f = createEnvelopeFactory(who);
  return Array.from({ length: n }, (_, i) => f.build('greetwatch.entry.v1', { sensor: 'front-beam', direction: 'in' }, T0 + i * 1000));
}
const ids = (o: Outbox) => [...o.pending()].map((e) => e.id);
const journal = (file: string) => fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
const outboxIo = (...parts: string[]): unknown =>
  expect.objectContaining({ code: EdgeErrorCodes.OUTBOX_IO, message: expect.stringMatching(new RegExp(parts.map(escape).join('.*'))) as unknown });
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const turn = () => new Promise<void>((r) => setImmediate(r));

describe('outbox', () => {
  let dir: string;
  const dirs: string[] = [];
  const opened: Outbox[] = [];
  const children: ChildProcess[] = [];

  /** fileOutbox that afterEach closes, so a failing test does not leave its lock behind */
  const open = (d: string, extra: Partial<FileOutboxOptions> = {}): FileOutbox => {
    const o = fileOutbox(d, { ...ID, ...extra });
    opened.push(o);
    return o;
  };
  /** The folder as kill -9 leaves it (every written line, fsynced or not), with its lock already stale. */
  const crashCopy = (from: string): string => {
    const to = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-outbox-crash-'));
    dirs.push(to);
    fs.cpSync(from, to, { recursive: true, filter: (src) => path.basename(src) !== 'node.lock' });
    return to;
  };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-outbox-'));
    dirs.push(dir);
  });
  afterEach(() => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
    for (const o of opened.splice(0)) {
      try {
        o.close();
      } catch {
        // the test may have broken it on purpose
      }
    }
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  for (const [name, make] of [
    ['memory', (extra: Partial<FileOutboxOptions> = {}) => memoryOutbox(extra)],
    ['file', (extra: Partial<FileOutboxOptions> = {}) => open(dir, extra)],
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
      expect(o.dropped()).toBe(0);
      o.close();
    });

    it(`${name}: when full, an add drops the oldest pending events and counts them`, () => {
      const o = make({ maxEvents: 3 });
      const ev = makeEvents(6);
      for (const e of ev.slice(0, 3)) o.add(e);
      expect(o.dropped()).toBe(0);
      o.add(ev[3]!);
      o.add(ev[3]!); // a duplicate takes no room
      expect(ids(o)).toEqual([ev[1]!.id, ev[2]!.id, ev[3]!.id]);
      expect(o.ack(ev[2]!.id)).toBe(true); // room again: the next add drops nothing
      o.add(ev[4]!);
      o.add(ev[5]!);
      expect(ids(o)).toEqual([ev[3]!.id, ev[4]!.id, ev[5]!.id]);
      expect(o.ack(ev[0]!.id)).toBe(false); // a PUBACK for a dropped event finds nothing
      expect(o.dropped()).toBe(2);
      o.close();
    });
  }

  it('pending events survive a crash (reopen without close); acked ones do not come back', () => {
    const ev = makeEvents(6);
    const a = open(dir);
    for (const e of ev) a.add(e);
    a.ack(ev[0]!.id);
    a.ack(ev[3]!.id);
    const b = open(crashCopy(dir)); // no close(): as after kill -9
    expect(ids(b)).toEqual([ev[1]!.id, ev[2]!.id, ev[4]!.id, ev[5]!.id]);
    expect([...b.pending()][0]).toEqual(ev[1]); // the whole event, as built
    b.close();
    const c = open(path.dirname(b.file));
    expect(c.size()).toBe(4);
  });

  it('skips a torn last line (write cut off by a crash) and keeps the rest', () => {
    const ev = makeEvents(3);
    const a = open(dir);
    for (const e of ev) a.add(e);
    a.close();
    fs.appendFileSync(a.file, '{"add":{"specversion":"1.0","id":"01J');
    const b = open(dir);
    expect(ids(b)).toEqual(ev.map((e) => e.id));
    expect(b.stats().badLines).toBe(1);
    b.add(makeEvents(1)[0]!);
    b.close();
    // compaction on open removed the torn tail for good
    const c = open(dir);
    expect(c.size()).toBe(4);
    expect(c.stats().badLines).toBe(0);
  });

  it('compacts on open and, off the ack path, when acks dominate', async () => {
    const ev = makeEvents(40);
    const a = open(dir, { compactAtLines: 20 });
    expect(a.stats().compactions).toBe(1); // on open
    for (const e of ev) a.add(e);
    for (const e of ev.slice(0, 38)) a.ack(e.id);
    await turn();
    expect(a.stats().compactions).toBe(2);
    expect(journal(a.file)).toHaveLength(2);
    expect(a.stats().journalLines).toBe(2);
    a.add(makeEvents(1)[0]!); // appends go to the new journal, not the replaced one
    expect(journal(a.file)).toHaveLength(3);
    a.close();
    const b = open(dir);
    expect(ids(b)).toEqual([ev[38]!.id, ev[39]!.id, expect.any(String)]);
    expect(journal(b.file)).toHaveLength(3);
  });

  it('ack only appends: many acks cause one compaction, on a later turn', async () => {
    const ev = makeEvents(40);
    const a = open(dir, { compactAtLines: 20 });
    for (const e of ev) a.add(e);
    for (const e of ev.slice(0, 38)) a.ack(e.id);
    // due since the 14th ack, but nothing rewritten yet
    expect(journal(a.file)).toHaveLength(40 + 38);
    expect(a.stats()).toMatchObject({ compactions: 1, journalLines: 78 });
    await turn();
    expect(a.stats()).toMatchObject({ compactions: 2, journalLines: 2 });
    expect(journal(a.file)).toHaveLength(2);
    await turn();
    expect(a.stats().compactions).toBe(2); // coalesced: one for all of them
  });

  it('close() cancels a scheduled compaction; the long journal reopens to the same events', async () => {
    const ev = makeEvents(40);
    const a = open(dir, { compactAtLines: 20 });
    for (const e of ev) a.add(e);
    for (const e of ev.slice(0, 38)) a.ack(e.id);
    a.close();
    await turn();
    expect(a.stats().compactions).toBe(1);
    expect(journal(a.file)).toHaveLength(78);
    expect(ids(open(dir))).toEqual([ev[38]!.id, ev[39]!.id]);
  });

  it('drops are journalled: dropped events stay dropped after a crash, the counter is per process', () => {
    const ev = makeEvents(5);
    const a = open(dir, { maxEvents: 3 });
    for (const e of ev) a.add(e);
    expect(a.dropped()).toBe(2);
    expect(a.stats().dropped).toBe(2);
    expect(journal(a.file).filter((l) => l.startsWith('{"drop":'))).toHaveLength(2);
    // reopened with room for all: only the drop lines keep the two oldest out
    const b = open(crashCopy(dir));
    expect(ids(b)).toEqual(ev.slice(2).map((e) => e.id));
    expect(b.dropped()).toBe(0);
  });

  it('a full outbox without acks keeps its journal bounded', async () => {
    const a = open(dir, { maxEvents: 5, compactAtLines: 10 });
    const ev = makeEvents(50);
    for (const e of ev) a.add(e);
    expect(a.stats().journalLines).toBe(5 + 45 * 2); // an add and a drop line per event over the bound
    await turn();
    expect(journal(a.file)).toHaveLength(5);
    expect(ids(a)).toEqual(ev.slice(45).map((e) => e.id));
    expect(a.dropped()).toBe(45);
  });

  it('a journal reopened under a smaller maxEvents drops its oldest events at open', () => {
    const ev = makeEvents(5);
    const a = open(dir);
    for (const e of ev) a.add(e);
    a.close();
    const b = open(dir, { maxEvents: 2 });
    expect(ids(b)).toEqual([ev[3]!.id, ev[4]!.id]);
    expect(b.dropped()).toBe(3);
    b.close();
    expect(open(dir).size()).toBe(2);
  });

  it('rejects a maxEvents below 1', () => {
    expect(() => memoryOutbox({ maxEvents: 0 })).toThrow(expect.objectContaining({ code: EdgeErrorCodes.USAGE }));
    expect(() => open(dir, { maxEvents: 1.5 })).toThrow(expect.objectContaining({ code: EdgeErrorCodes.USAGE }));
  });

  it('the "outbox full" warning comes at most once per 10 s, with the count since the last one', () => {
    const warnings: Array<{ dropped: number; droppedTotal: number }> = [];
    const log = pino({ level: 'warn' }, { write: (s: string) => void warnings.push(JSON.parse(s) as { dropped: number; droppedTotal: number }) });
    let now = 0;
    const a = open(dir, { maxEvents: 2, log, now: () => now });
    const ev = makeEvents(8);
    for (const e of ev.slice(0, 5)) a.add(e); // 3 drops at t=0
    expect(warnings.map((w) => [w.dropped, w.droppedTotal])).toEqual([[1, 1]]);
    now = DROP_LOG_EVERY_MS - 1;
    a.add(ev[5]!);
    expect(warnings).toHaveLength(1);
    now = DROP_LOG_EVERY_MS;
    a.add(ev[6]!);
    expect(warnings.map((w) => [w.dropped, w.droppedTotal])).toEqual([
      [1, 1],
      [4, 5],
    ]);
    now += 1;
    a.add(ev[7]!);
    a.close(); // logs what the window held back
    expect(warnings.map((w) => [w.dropped, w.droppedTotal])).toEqual([
      [1, 1],
      [4, 5],
      [1, 6],
    ]);
  });

  describe('one journal per node', () => {
    it('records the node in node.json and refuses a folder of another node', () => {
      const a = open(dir);
      expect(JSON.parse(fs.readFileSync(path.join(dir, 'node.json'), 'utf8'))).toEqual(ID);
      // named as another node's folder even while that node holds the lock
      expect(() => fileOutbox(dir, { store: 's1', node: 'door-2' })).toThrow(outboxIo(dir, 's1/door-1', 's1/door-2'));
      expect(() => fileOutbox(dir, { store: 's2', node: 'door-1' })).toThrow(outboxIo(dir, 's1/door-1', 's2/door-1'));
      a.close();
      expect(() => fileOutbox(dir, { store: 's1', node: 'door-2' })).toThrow(outboxIo(dir, 's1/door-1', 's1/door-2'));
      expect(open(dir).size()).toBe(0);
    });

    it('refuses a folder whose node.json names no node, and an invalid identity', () => {
      fs.writeFileSync(path.join(dir, 'node.json'), '{"store":"s1"}');
      expect(() => open(dir)).toThrow(outboxIo('node.json', 'does not name a node'));
      expect(() => fileOutbox(crashCopy(dir), { store: 'S 1', node: 'door-1' })).toThrow(
        expect.objectContaining({ code: EdgeErrorCodes.USAGE, message: expect.stringContaining('not a valid store/node') as unknown }),
      );
    });

    it('adopts a journal written before node.json existed', () => {
      const ev = makeEvents(2);
      fs.writeFileSync(path.join(dir, 'outbox.jsonl'), ev.map((e) => JSON.stringify({ add: e }) + '\n').join(''));
      fs.writeFileSync(path.join(dir, 'outbox.lock'), '12345'); // the PID lock of earlier versions
      const a = open(dir);
      expect(ids(a)).toEqual(ev.map((e) => e.id));
      expect(fs.existsSync(path.join(dir, 'node.json'))).toBe(true);
      expect(fs.existsSync(path.join(dir, 'outbox.lock'))).toBe(false);
    });

    it('skips journal lines with events of another node and counts them as bad lines', () => {
      const ours = makeEvents(2);
      const a = open(dir);
      a.add(ours[0]!);
      a.close();
      const foreign = [...makeEvents(1, { store: 's1', node: 'door-2' }), ...makeEvents(1, { store: 's2', node: 'door-1' })];
      fs.appendFileSync(a.file, foreign.map((e) => JSON.stringify({ add: e }) + '\n').join('') + JSON.stringify({ add: ours[1] }) + '\n');
      const b = open(dir);
      expect(ids(b)).toEqual(ours.map((e) => e.id));
      expect(b.stats().badLines).toBe(2);
    });

    it('refuses to add an event of another node', () => {
      const a = open(dir);
      expect(() => a.add(makeEvents(1, { store: 's1', node: 'door-2' })[0]!)).toThrow(outboxIo('refusing', '/stores/s1/nodes/door-2'));
      expect(a.size()).toBe(0);
    });
  });

  describe('lock', () => {
    const lockDir = () => path.join(dir, 'node.lock');

    it('refuses a second open of the folder while the first holds it; allows it after close', () => {
      const a = open(dir);
      a.add(makeEvents(1)[0]!);
      expect(() => fileOutbox(dir, ID)).toThrow(outboxIo(dir, 'another process', 's1/door-1'));
      expect(a.size()).toBe(1); // the holder is unharmed
      a.close();
      expect(fs.existsSync(lockDir())).toBe(false);
      expect(open(dir).size()).toBe(1);
    });

    it('takes over a lock whose holder stopped refreshing it (stale), not a fresh one', () => {
      open(dir).close();
      fs.mkdirSync(lockDir()); // what a SIGKILLed holder leaves: the lock, no one touching it
      expect(() => fileOutbox(dir, ID)).toThrow(outboxIo(dir, 'another process'));
      const old = new Date(Date.now() - LOCK_STALE_MS - 1000);
      fs.utimesSync(lockDir(), old, old);
      const a = open(dir);
      a.add(makeEvents(1)[0]!);
      a.close();
      expect(fs.existsSync(lockDir())).toBe(false);
    });

    it('takes over a lock dated in the future (clock stepped back after a power cut)', () => {
      open(dir).close();
      fs.mkdirSync(lockDir());
      const soon = new Date(Date.now() + 2000); // within the slack: could be a live holder's rounding
      fs.utimesSync(lockDir(), soon, soon);
      expect(() => fileOutbox(dir, ID)).toThrow(outboxIo(dir, 'another process'));
      const later = new Date(Date.now() + 3_600_000);
      fs.utimesSync(lockDir(), later, later);
      open(dir).close();
      expect(fs.existsSync(lockDir())).toBe(false);
    });

    it('another live process holds the folder; after its SIGKILL the lock is taken over once stale', async () => {
      const ev = makeEvents(1)[0]!;
      const code = [
        `import { fileOutbox } from ${JSON.stringify(new URL('../../edge/outbox.ts', import.meta.url).href)};`,
        `const o = fileOutbox(process.env.GW_DIR, { store: 's1', node: 'door-1' });`,
        `o.add(JSON.parse(process.env.GW_EVENT));`,
        `process.stdout.write('ready\\n');`,
        `setInterval(() => {}, 60000);`,
      ].join('\n');
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
        env: { ...process.env, GW_DIR: dir, GW_EVENT: JSON.stringify(ev) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let out = '';
      child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
      await waitFor(() => out.includes('ready') || child.exitCode !== null, 'child holds the outbox');
      expect(out).toContain('ready');

      expect(() => fileOutbox(dir, ID)).toThrow(outboxIo(dir, 'another process', 's1/door-1'));
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      // the dead holder's lock is still fresh (refreshed within the last second): refused
      expect(() => fileOutbox(dir, ID)).toThrow(outboxIo(dir, 'another process'));
      // what LOCK_STALE_MS of waiting would do, without the wait
      const old = new Date(Date.now() - LOCK_STALE_MS - 1000);
      fs.utimesSync(lockDir(), old, old);
      const a = open(dir);
      expect(ids(a)).toEqual([ev.id]); // fsynced by add() before the kill
    });

    it('openFileOutbox waits while the folder is held and opens it once released', async () => {
      const a = open(dir);
      a.add(makeEvents(1)[0]!);
      let b: FileOutbox | undefined;
      const opening = openFileOutbox(dir, ID, 60_000).then((o) => {
        opened.push(o);
        b = o;
      });
      await turn();
      expect(b).toBeUndefined();
      a.close();
      await opening;
      expect(b?.size()).toBe(1);
    });

    it('openFileOutbox gives up after waitMs, and fails at once for another node', async () => {
      open(dir);
      await expect(openFileOutbox(dir, ID, 300)).rejects.toThrow(outboxIo(dir, 'another process'));
      const started = Date.now();
      await expect(openFileOutbox(dir, { store: 's1', node: 'door-2' }, 60_000)).rejects.toThrow(outboxIo(dir, 's1/door-1', 's1/door-2'));
      expect(Date.now() - started).toBeLessThan(30_000);
    });
  });
});
