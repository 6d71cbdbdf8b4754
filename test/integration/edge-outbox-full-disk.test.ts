// A full SD card (README "Reliability"): write(2) may write part of a line and return the
// short count, and the next write fails. The outbox must then report the event as not
// durable and leave the journal whole, so the next event, written once space is back, is
// not glued onto half a line and lost with it after a kill -9. The "full disk" is
// RLIMIT_FSIZE on a child process (prlimit), lifted again to stand for space coming back.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createEnvelopeFactory } from '../../edge/envelope.ts';
import { fileOutbox } from '../../edge/outbox.ts';
import { waitFor } from '../helpers/wait.ts';

const ID = { store: 's1', node: 'door-1' } as const;
const url = (p: string) => JSON.stringify(new URL(p, import.meta.url).href);

const CHILD = [
  `import * as fs from 'node:fs';`,
  `import * as readline from 'node:readline';`,
  `import { fileOutbox } from ${url('../../edge/outbox.ts')};`,
  `import { createEnvelopeFactory } from ${url('../../edge/envelope.ts')};`,
  // a write past the limit then fails with EFBIG instead of killing the process
  `process.on('SIGXFSZ', () => {});`,
  `const o = fileOutbox(process.env.GW_DIR, { store: 's1', node: 'door-1' });`,
  `const f = createEnvelopeFactory({ store: 's1', node: 'door-1' });`,
  `const say = (x) => process.stdout.write(JSON.stringify(x) + '\\n');`,
  `say({ ready: true, size: fs.statSync(o.file).size, pending: o.size() });`,
  `readline.createInterface({ input: process.stdin }).on('line', () => {`,
  `  const ev = f.build('greetwatch.entry.v1', { sensor: 'front-beam', direction: 'in' }, Date.now());`,
  `  try { o.add(ev); say({ id: ev.id, ok: true, size: fs.statSync(o.file).size, line: JSON.stringify({ add: ev }).length + 1 }); }`,
  `  catch (err) { say({ id: ev.id, ok: false, err: err.message, code: err.code }); }`,
  `});`,
].join('\n');

describe('edge outbox on a full disk', () => {
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  /** the outbox in a child process (`fsize`: its file-size limit from the start, in bytes); one `add` per line on its stdin */
  const startChild = (dir: string, fsize?: number) => {
    const node = [process.execPath, '--import', 'tsx', '--input-type=module', '-e', CHILD];
    const [cmd, ...args] = fsize === undefined ? node : ['prlimit', `--fsize=${fsize}`, ...node];
    const child = spawn(cmd!, args, { env: { ...process.env, GW_DIR: dir }, stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(child);
    const replies: Array<Record<string, unknown>> = [];
    let buf = '';
    let errText = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        replies.push(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
        buf = buf.slice(i + 1);
      }
    });
    child.stderr.on('data', (d: Buffer) => (errText += d.toString()));
    const next = async (): Promise<Record<string, unknown>> => {
      const n = replies.length;
      await waitFor(() => replies.length > n || child.exitCode !== null, `child reply (${errText})`);
      return replies[n]!;
    };
    const add = async () => {
      const r = next();
      child.stdin.write('add\n');
      return r;
    };
    const limit = (v: string) => execFileSync('prlimit', ['--pid', String(child.pid), `--fsize=${v}`]);
    const kill = async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      fs.rmSync(path.join(dir, 'node.lock'), { recursive: true, force: true }); // its holder is dead
    };
    return { next, add, limit, kill };
  };

  it('every event add() took survives a kill -9; the one the disk cut short is refused, not half written', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-outbox-short-'));
    dirs.push(dir);
    const { next, add, limit: fsize, kill } = startChild(dir);

    expect(await next()).toMatchObject({ ready: true, size: 0 }); // journal compacted on open: empty

    const a = await add(); // plenty of room
    const lineLen = a.line as number;
    // the disk fills up: room for half of the next line only
    fsize(`${(a.size as number) + Math.floor(lineLen / 2)}:`);
    const b = await add(); // half a line fits, then EFBIG: refused, and the half is cut off again
    fsize('unlimited:'); // space comes back (a log rotated away)
    const c = await add();

    expect([a.ok, b.ok, c.ok]).toEqual([true, false, true]);
    expect(b.err).toMatch(/cannot write .*outbox\.jsonl/);
    expect(b.code).toBe('GW_ERR_OUTBOX_IO');
    expect(c.size).toBe((a.size as number) + (c.line as number));

    await kill();

    const o = fileOutbox(dir, ID);
    try {
      const pending = [...o.pending()].map((e) => e.id);
      expect({ pending, badLines: o.stats().badLines }).toEqual({ pending: [a.id, c.id], badLines: 0 });
    } finally {
      o.close();
    }
  });

  it('a node whose disk is full at start still starts: the journal is kept as it is, and nothing in it is lost', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-outbox-full-'));
    dirs.push(dir);
    const before = fileOutbox(dir, ID);
    const f = createEnvelopeFactory(ID);
    const kept = [1, 2, 3].map(() => f.build('greetwatch.entry.v1', { sensor: 'front-beam', direction: 'in' }, Date.now()));
    for (const ev of kept) before.add(ev);
    before.close();
    const size = fs.statSync(before.file).size;

    // no room for the compaction's copy, nor for one more line
    const { next, add, kill } = startChild(dir, size - 1);
    expect(await next()).toMatchObject({ ready: true, size, pending: 3 });
    expect(await add()).toMatchObject({ ok: false, code: 'GW_ERR_OUTBOX_IO' });
    expect(fs.existsSync(`${before.file}.tmp`)).toBe(false);
    await kill();

    const after = fileOutbox(dir, ID);
    try {
      expect({ pending: [...after.pending()].map((e) => e.id), badLines: after.stats().badLines }).toEqual({ pending: kept.map((e) => e.id), badLines: 0 });
    } finally {
      after.close();
    }
  });
});
