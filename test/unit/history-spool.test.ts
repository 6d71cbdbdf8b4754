import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino, type Logger } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, GwError } from '../../contract/index.ts';
import { makeCrc32, nodeSpoolFs, openSpool, segmentName, type Spool, type SpoolFile, type SpoolFs, type SpoolOptions } from '../../hub/history/spool.ts';

type LogEntry = Record<string, unknown> & { msg?: string; level?: number; name?: string };

function capture(): { log: Logger; entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void entries.push(JSON.parse(s) as LogEntry) });
  return { log, entries };
}

/** node:fs, counting fdatasyncs, with writes that can be made to fail half way (a disk filling up) */
function faultyFs(): { fs: SpoolFs; datasyncs: () => number; failWrites: (on: boolean) => void } {
  const base = nodeSpoolFs();
  let datasyncs = 0;
  let failing = false;
  const wrap = (h: SpoolFile): SpoolFile => ({
    async write(buf, off, len) {
      if (!failing) return h.write(buf, off, len);
      await h.write(buf, off, Math.max(1, Math.floor(len / 2)));
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    },
    datasync: () => {
      datasyncs++;
      return h.datasync();
    },
    sync: () => h.sync(),
    truncate: (n) => h.truncate(n),
    close: () => h.close(),
  });
  return {
    fs: { ...base, open: async (file, flags) => wrap(await base.open(file, flags)) },
    datasyncs: () => datasyncs,
    failWrites: (on) => {
      failing = on;
    },
  };
}

/** a line-protocol point; all the same length, so records of the same size frame alike */
const point = (i: number) => `visit,store=s1,outcome=greeted party="p${String(i).padStart(4, '0')}",size=1i 17000000000${String(i).padStart(8, '0')}`;
const batch = (from: number, n: number) => Array.from({ length: n }, (_, k) => point(from + k));
const ids = (s: Spool) => s.peek(Number.MAX_SAFE_INTEGER).map((r) => r.id);
const segFiles = (d: string) => fs.readdirSync(d).filter((f) => f.endsWith('.spool')).sort();
const lastSegment = (d: string) => path.join(d, segFiles(d).at(-1)!);
const storeIo = (file: string): unknown => expect.objectContaining({ code: ErrorCodes.STORE_IO, message: expect.stringContaining(file) as unknown });

describe('history spool', () => {
  let tmp: string;
  let dir: string;
  const open: Spool[] = [];

  const spool = async (extra: Partial<SpoolOptions> = {}): Promise<Spool> => {
    const s = await openSpool({ dir, log: pino({ level: 'silent' }), ...extra });
    open.push(s);
    return s;
  };
  /** closes, then opens the same folder again (what a restart sees) */
  const reopen = async (s: Spool, extra: Partial<SpoolOptions> = {}): Promise<Spool> => {
    await s.close();
    return spool(extra);
  };

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-spool-'));
    dir = path.join(tmp, 'a', 'spool'); // not there yet: openSpool creates it
  });
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close().catch(() => undefined);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('computes the standard CRC-32, natively and in JS alike', () => {
    for (const crc of [makeCrc32(), makeCrc32({ js: true })]) expect(crc([Buffer.from('1234'), Buffer.from('56789')])).toBe(0xcbf43926);
    const parts = [Buffer.alloc(0), Buffer.from('7 5000 '), Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7919) & 0xff))];
    expect(makeCrc32()(parts)).toBe(makeCrc32({ js: true })(parts));
  });

  it('appends, peeks in order without removing, acks a prefix', async () => {
    const s = await spool();
    expect(fs.statSync(dir).isDirectory()).toBe(true);
    const r1 = await s.append(batch(1, 2));
    const r2 = await s.append(batch(3, 2));
    const r3 = await s.append(batch(5, 2));
    expect([r1.id, r2.id, r3.id]).toEqual([1, 2, 3]);
    expect(r2.lines).toEqual(batch(3, 2));

    expect(s.peek(100)).toEqual([r1, r2, r3]);
    expect(s.peek(100)).toEqual([r1, r2, r3]); // peek does not remove
    expect(s.peek(3).map((r) => r.id)).toEqual([1]); // 2 + 2 > 3
    expect(s.peek(4).map((r) => r.id)).toEqual([1, 2]);
    expect(s.peek(0).map((r) => r.id)).toEqual([1]); // at least one record
    expect(s.stats()).toMatchObject({ records: 3, points: 6, dropped: 0, segments: 1, corrupt: 0 });

    await s.ack(2);
    expect(ids(s)).toEqual([3]);
    await s.ack(1); // behind the cursor: nothing to do
    expect(s.stats()).toMatchObject({ records: 1, points: 2 });
    await s.ack(3);
    expect(s.peek(10)).toEqual([]);
    expect(s.stats()).toMatchObject({ records: 0, points: 0, bytes: 0 });
  });

  it('keeps unacked records and forgets acked ones across a restart', async () => {
    let s = await spool();
    for (let i = 0; i < 4; i++) await s.append(batch(i * 10, 3));
    await s.ack(2);
    s = await reopen(s);
    expect(ids(s)).toEqual([3, 4]);
    expect(s.peek(10)[0]!.lines).toEqual(batch(20, 3));
    expect(s.stats()).toMatchObject({ records: 2, points: 6, corrupt: 0 });
    expect((await s.append(['x'])).id).toBe(5);
  });

  it('ids keep increasing across restarts, even when everything was acked and the segments are gone', async () => {
    let s = await spool();
    for (let i = 0; i < 3; i++) await s.append([point(i)]);
    await s.ack(3);
    s = await reopen(s);
    expect(s.stats().records).toBe(0);
    expect((await s.append(['a'])).id).toBe(4);
    await s.ack(4);
    await s.close();
    for (const f of segFiles(dir)) fs.rmSync(path.join(dir, f));
    s = await spool();
    expect((await s.append(['b'])).id).toBe(5); // from the ack cursor alone
  });

  it('an ack beyond the last appended record does not swallow later appends', async () => {
    let s = await spool();
    await s.append(['a']);
    await s.append(['b']);
    await s.ack(1000);
    const r = await s.append(['c']);
    expect(r.id).toBe(3);
    expect(ids(s)).toEqual([3]);
    s = await reopen(s);
    expect(ids(s)).toEqual([3]);
  });

  it('ignores a torn last write (cut mid-record, garbage after it), and later appends stay readable', async () => {
    const logs = capture();
    let s = await spool();
    for (let i = 1; i <= 3; i++) await s.append(batch(i * 10, 2));
    await s.close();
    // kill -9 / power cut while record 3 was being written: half of it, then junk
    const file = lastSegment(dir);
    fs.truncateSync(file, fs.statSync(file).size - 20);
    fs.appendFileSync(file, '\u0000\u0000{"id":9,"n":1,"crc":"zz');

    s = await spool({ log: logs.log });
    expect(ids(s)).toEqual([1, 2]);
    expect(s.stats().corrupt).toBe(0); // never acknowledged as appended: not damage
    expect(logs.entries.some((e) => e.name === 'hub:spool' && /torn/.test(e.msg ?? '') && e.file === file)).toBe(true);

    const r = await s.append(batch(99, 1));
    expect(r.id).toBe(3); // the torn id was never handed out as appended
    s = await reopen(s);
    expect(ids(s)).toEqual([1, 2, 3]);
    expect(s.peek(10)[2]!.lines).toEqual(batch(99, 1));
    expect(s.stats().corrupt).toBe(0);
    expect(fs.readFileSync(file, 'utf8').split('\n').filter(Boolean)).toHaveLength(3);
  });

  it('skips damaged records in the middle, counts them and names file and line', async () => {
    const logs = capture();
    let s = await spool();
    for (let i = 1; i <= 4; i++) await s.append([point(i)]);
    await s.close();
    const file = lastSegment(dir);
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    lines[1] = lines[1]!.replace('party=\\"p0002\\"', 'party=\\"p0007\\"'); // still JSON, wrong checksum
    lines[2] = 'garbage';
    fs.writeFileSync(file, lines.join('\n'));

    s = await spool({ log: logs.log });
    expect(ids(s)).toEqual([1, 4]);
    expect(s.stats().corrupt).toBe(2);
    const bad = logs.entries.filter((e) => e.code === ErrorCodes.STORE_IO && e.file === file);
    expect(bad.map((e) => [e.line, e.why])).toEqual([
      [2, 'checksum mismatch'],
      [3, 'bad framing'],
    ]);
    expect((await s.append(['x'])).id).toBe(5);
    expect(ids(s)).toEqual([1, 4, 5]);
  });

  it('rotates segments and deletes the ones whose records are all acked', async () => {
    // probe the size of one record (ids 1..9 frame to the same length)
    const probe = await openSpool({ dir: path.join(tmp, 'probe'), log: pino({ level: 'silent' }) });
    await probe.append([point(0)]);
    const rec = probe.stats().bytes;
    await probe.close();

    let s = await spool({ segmentBytes: 2 * rec });
    for (let i = 1; i <= 6; i++) await s.append([point(i)]);
    expect(segFiles(dir)).toEqual([segmentName(1), segmentName(3), segmentName(5)]);
    expect(segmentName(3)).toBe('000000000003.spool');
    expect(s.stats()).toMatchObject({ segments: 3, records: 6, bytes: 6 * rec });

    await s.ack(3); // segment 3 still holds record 4
    expect(segFiles(dir)).toEqual([segmentName(3), segmentName(5)]);
    await s.ack(4);
    expect(segFiles(dir)).toEqual([segmentName(5)]);
    expect(s.stats().segments).toBe(1);

    s = await reopen(s, { segmentBytes: 2 * rec });
    expect(ids(s)).toEqual([5, 6]);
    await s.ack(6);
    await s.append([point(7)]); // rotates; the old, fully acked segment goes right after
    await s.close(); // waits for that housekeeping too
    expect(segFiles(dir)).toEqual([segmentName(7)]);
  });

  it('over maxBytes drops the oldest records, counts their points and logs once per episode', async () => {
    const probe = await openSpool({ dir: path.join(tmp, 'probe'), log: pino({ level: 'silent' }) });
    await probe.append(batch(0, 2));
    const rec = probe.stats().bytes;
    await probe.close();

    const logs = capture();
    const maxBytes = 3 * rec + Math.floor(rec / 2);
    let s = await spool({ maxBytes, log: logs.log });
    const full = () => logs.entries.filter((e) => e.code === ErrorCodes.STORE_IO && /full/.test(e.msg ?? ''));
    for (let i = 1; i <= 5; i++) await s.append(batch(i * 10, 2));
    expect(ids(s)).toEqual([3, 4, 5]);
    expect(s.stats()).toMatchObject({ records: 3, points: 6, bytes: 3 * rec, dropped: 4 });
    expect(full()).toHaveLength(1);
    expect(full()[0]).toMatchObject({ name: 'hub:spool', level: 50, droppedPoints: 2 });

    // one record bigger than the bound is still taken, everything older goes
    const big = batch(100, 20);
    const r = await s.append(big);
    expect(ids(s)).toEqual([r.id]);
    expect(s.stats().dropped).toBe(4 + 6);
    expect(s.stats().bytes).toBeGreaterThan(maxBytes);
    expect(full()).toHaveLength(1); // same episode

    // the drops are durable: a restart does not bring them back
    s = await reopen(s, { maxBytes, log: logs.log });
    expect(ids(s)).toEqual([r.id]);
    expect(s.peek(100)[0]!.lines).toEqual(big);

    // draining ends the episode; the next overflow is logged again
    await s.ack(r.id);
    for (let i = 0; i < 5; i++) await s.append(batch(i, 2));
    expect(full()).toHaveLength(2);
  });

  it('opening with a smaller maxBytes drops the oldest records', async () => {
    let s = await spool();
    for (let i = 1; i <= 4; i++) await s.append([point(i)]);
    const rec = s.stats().bytes / 4;
    s = await reopen(s, { maxBytes: 2 * rec });
    expect(ids(s)).toEqual([3, 4]);
    expect(s.stats().dropped).toBe(2);
    s = await reopen(s);
    expect(ids(s)).toEqual([3, 4]);
  });

  it('group commit: appends made together share one fdatasync', async () => {
    const f = faultyFs();
    const s = await spool({ fs: f.fs });
    await s.append(['warm-up']); // creates the segment (its own sync and the folder's)
    const syncs0 = s.stats().syncs;
    const datasyncs0 = f.datasyncs();

    const N = 100;
    const got = await Promise.all(Array.from({ length: N }, (_, i) => s.append([point(i)])));
    expect(got.map((r) => r.id)).toEqual(Array.from({ length: N }, (_, i) => i + 2));
    expect(s.stats().syncs - syncs0).toBe(1);
    expect(f.datasyncs() - datasyncs0).toBe(1);
    expect(ids(s)).toHaveLength(N + 1);

    // appends arriving while a write is in flight go into the next one, not one each
    const first = s.append(['a']);
    await Promise.resolve();
    const more = Array.from({ length: N }, (_, i) => s.append([point(i)]));
    await Promise.all([first, ...more]);
    expect(f.datasyncs() - datasyncs0).toBeLessThanOrEqual(3);
  });

  it('a failed disk write rejects with STORE_IO naming the file, leaves no torn record, and the spool goes on', async () => {
    const f = faultyFs();
    let s = await spool({ fs: f.fs });
    await s.append(['one']);
    const file = lastSegment(dir);
    const size = fs.statSync(file).size;

    f.failWrites(true);
    await expect(s.append(['two'])).rejects.toEqual(storeIo(file));
    // a whole group fails together
    const group = await Promise.allSettled([s.append(['a']), s.append(['b'])]);
    expect(group.map((g) => g.status)).toEqual(['rejected', 'rejected']);
    expect(fs.statSync(file).size).toBe(size); // the half-written bytes were cut back
    expect(ids(s)).toEqual([1]);

    f.failWrites(false);
    const r = await s.append(['three']);
    expect(ids(s)).toEqual([1, r.id]);
    s = await reopen(s);
    expect(s.peek(10).map((x) => x.lines)).toEqual([['one'], ['three']]);
    expect(s.stats().corrupt).toBe(0);
  });

  it('a segment that cannot be created (a folder in the way) rejects with STORE_IO; the next append works', async () => {
    let s = await spool({ segmentBytes: 1 }); // every record gets its own segment
    await s.append(['one']);
    const blocked = path.join(dir, segmentName(2));
    fs.mkdirSync(blocked);
    const err = await s.append(['two']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GwError);
    expect(err).toEqual(storeIo(blocked));
    const r = await s.append(['three']);
    expect(r.id).toBe(3);
    s = await reopen(s, { segmentBytes: 1 }); // the folder is skipped, not read as a segment
    expect(s.peek(10).map((x) => x.lines)).toEqual([['one'], ['three']]);
    fs.rmdirSync(blocked);
  });

  it('kill -9 while appending loses no acknowledged record', async () => {
    // the child appends 4 records at a time and prints each id once its append resolved
    // (stdout to a pipe is synchronous: a printed id was acknowledged before the kill)
    const code = `
      const { pino } = await import('pino');
      const { openSpool } = await import(process.env.GW_SPOOL_MODULE);
      const s = await openSpool({ dir: process.env.GW_DIR, segmentBytes: 4096, log: pino({ level: 'silent' }) });
      for (let i = 0; ; i += 4) {
        const rs = await Promise.all([0, 1, 2, 3].map((k) => s.append(['p' + (i + k) + ' v=1i'])));
        for (const r of rs) process.stdout.write('ok ' + r.id + '\\n');
      }`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      env: { ...process.env, GW_DIR: dir, GW_SPOOL_MODULE: pathToFileURL(path.resolve('hub/history/spool.ts')).href },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acked: number[] = [];
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    await new Promise<void>((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        const parts = buf.split('\n');
        buf = parts.pop()!;
        for (const l of parts) {
          const m = /^ok (\d+)$/.exec(l);
          if (m) acked.push(Number(m[1]));
        }
        if (acked.length >= 400) resolve();
      });
      child.once('exit', () => reject(new Error(`child exited early: ${err}`)));
    });
    child.kill('SIGKILL');
    await exited;

    const s = await spool({ segmentBytes: 4096 });
    const got = ids(s);
    expect(got.slice(0, acked.length)).toEqual(acked); // every acknowledged one, in order
    expect(got).toEqual(Array.from({ length: got.length }, (_, i) => i + 1));
    expect(s.stats().corrupt).toBe(0);
    expect(segFiles(dir).length).toBeGreaterThan(1);
    const r = await s.append(['after']);
    expect(r.id).toBe(got.length + 1);
  });

  it('close waits for appends in flight; appends and acks after close reject with STORE_IO', async () => {
    let s = await spool();
    const done: number[] = [];
    const pending = Array.from({ length: 10 }, (_, i) => s.append([point(i)]).then((r) => void done.push(r.id)));
    await s.close();
    expect(done).toHaveLength(10);
    await Promise.all(pending);
    await expect(s.append(['late'])).rejects.toMatchObject({ code: ErrorCodes.STORE_IO });
    await expect(s.ack(1)).rejects.toMatchObject({ code: ErrorCodes.STORE_IO });
    await s.close(); // twice is fine
    s = await spool();
    expect(ids(s)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
});
