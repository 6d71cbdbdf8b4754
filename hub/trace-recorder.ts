import fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { GwEvent, LatencyFigures } from '../contract/index.ts';
import { latencyWindow } from './latency-window.ts';

// CONTRACT.md "Replay": the hub records every accepted event, as on the wire, with the
// extension attribute `recvtime`, one JSON object a line, one file a UTC day. An event is
// durable before the broker acknowledges it (README "Reliability"): its line is written
// through an O_DSYNC descriptor (DSYNC below), and only then is `done` called, which lets the
// PUBACK go. The writes run on libuv's thread pool, not on the event loop that serves MQTT,
// and they are grouped: events read in the same turn of the event loop share one write, and
// every event that arrives while a write is in flight goes into the next one, so one
// synchronous write covers them all and acknowledgements stay within a few ms at store rates.
// A failed write calls `done` with the error: no PUBACK, the node keeps the event and sends
// it again. A new day's file is followed by an fsync of the folder, so the file itself
// survives a power cut; files older than `keepDays` are removed when a new day begins.

export interface TraceRecorder {
  /**
   * appends the event, received as the JSON text `wire` if given (kept as it came: traceLine);
   * `done` runs once it is durable, or with the error that kept it from being so
   */
  record(ev: GwEvent, recvMs: number, done: (err?: Error) => void, wire?: string): void;
  /** trace files of this store, oldest first */
  files(): string[];
  stats(): TraceStats;
  /** writes what is queued, then closes */
  close(): Promise<void>;
}

export interface TraceStats {
  /** events made durable */
  written: number;
  /** group commits (one synchronous write each) */
  commits: number;
  /** events whose write failed (not acknowledged; the node sends them again) */
  failed: number;
  lastError: string | null;
  /** events waiting for the next commit */
  queued: number;
  /**
   * how long the last commits took (the synchronous write, in ms), over up to the last
   * COMMIT_WINDOW of them: what bounds the PUBACK (README "Benchmarks"); null before the first
   */
  commitMs: LatencyFigures | null;
  /** all commits' time together, in ms (with `commits`: the mean over any period) */
  commitMsTotal: number;
  /** the slowest commit since the start, in ms */
  commitMsMax: number;
}

/** commits whose durations stats() reads: a few seconds under load, hours on a quiet store */
export const COMMIT_WINDOW = 1024;

export interface TraceOptions {
  /** trace files older than this many days are deleted when a new day's file opens (0 = keep all) */
  keepDays?: number;
  now?: () => number;
  /**
   * puts a write's start off until the loop has read the publishes of its turn (setImmediate by
   * default); the hub also puts it behind the publish handling its turn budget made wait
   */
  later?: (fn: () => void) => void;
}

interface Pending {
  day: string;
  line: string;
  done: (err?: Error) => void;
}

// With O_DSYNC each write returns once its data is durable, as write + fdatasync would: one
// trip to the thread pool per commit instead of two, and the event loop, busy reading the next
// publishes, hands over only one completion. Where the flag does not exist (Windows), fdatasync.
const DSYNC = fs.constants.O_DSYNC !== undefined;
const APPEND_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_APPEND | (fs.constants.O_DSYNC ?? 0);

/** the file's last byte is not a line break (an empty file ends no line) */
const endsInsideLine = (file: string): boolean => {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    if (size === 0) return false;
    const last = Buffer.alloc(1);
    fs.readSync(fd, last, 0, 1, size - 1);
    return last[0] !== 0x0a;
  } finally {
    fs.closeSync(fd);
  }
};

const fsyncDir = (dir: string): void => {
  let fd: number | null = null;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // some filesystems refuse fsync on a folder; the file's own synchronous writes still hold
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
};

/**
 * JSON.stringify({ ...ev, recvtime }) without copying the event: recvtime goes last. An event
 * that carries a recvtime of its own keeps it in its place, overwritten, as the copy would.
 */
export function withRecvtime(ev: GwEvent, recvtime: string): string {
  if (Object.hasOwn(ev, 'recvtime')) return JSON.stringify({ ...ev, recvtime });
  const json = JSON.stringify(ev);
  return json === '{}' ? JSON.stringify({ recvtime }) : `${json.slice(0, -1)},"recvtime":${JSON.stringify(recvtime)}}`;
}

const isJsonSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/**
 * The trace line of an event that came as the JSON text `wire`: that text as it came, with
 * recvtime added before its closing brace (CONTRACT.md "Replay": as on the wire), which costs
 * no second serialisation. Read back, it is the same event with recvtime (duplicate keys
 * resolve alike: the last wins). Text that would not be one line (JSON may put line breaks
 * between tokens), or an event with a recvtime of its own, goes through withRecvtime.
 */
export function traceLine(ev: GwEvent, recvtime: string, wire: string | undefined): string {
  if (wire === undefined || Object.hasOwn(ev, 'recvtime') || wire.includes('\n') || wire.includes('\r')) return withRecvtime(ev, recvtime);
  let end = wire.length - 1;
  while (end > 0 && isJsonSpace(wire.charCodeAt(end))) end--;
  let last = end - 1;
  while (last > 0 && isJsonSpace(wire.charCodeAt(last))) last--;
  // an object with members: `}` last, and before it something other than the opening `{`
  if (wire.charCodeAt(end) !== 0x7d || wire.charCodeAt(last) === 0x7b) return withRecvtime(ev, recvtime);
  return `${wire.slice(0, end)},"recvtime":${JSON.stringify(recvtime)}}`;
}

export function fileTraceRecorder(dir: string, store: string, opts: TraceOptions = {}): TraceRecorder {
  fs.mkdirSync(dir, { recursive: true });
  const now = opts.now ?? Date.now;
  const later = opts.later ?? ((fn: () => void) => void setImmediate(fn));
  let queue: Pending[] = [];
  let flushing: Promise<void> | null = null;
  let handle: FileHandle | null = null;
  let day = '';
  /** bytes in the open day's file that are whole, durable lines */
  let size = 0;
  /** the open file ends inside a line (one a crash or a power cut tore): end it before the next */
  let torn = false;
  let closed = false;
  const stats = { written: 0, failed: 0, lastError: null as string | null, commitMsTotal: 0, commitMsMax: 0 };
  const commitMs = latencyWindow(COMMIT_WINDOW);
  const fileOf = (d: string) => path.join(dir, `${store}-${d}.jsonl`);

  const files = (): string[] =>
    fs
      .readdirSync(dir)
      .filter((f) => f.startsWith(`${store}-`) && f.endsWith('.jsonl'))
      .sort()
      .map((f) => path.join(dir, f));

  const prune = (): void => {
    const keep = opts.keepDays ?? 0;
    if (keep <= 0) return;
    const cutoff = new Date(now() - keep * 86_400_000).toISOString().slice(0, 10);
    for (const f of files()) {
      const d = /(\d{4}-\d{2}-\d{2})\.jsonl$/.exec(f)?.[1];
      if (d && d < cutoff) fs.rmSync(f, { force: true });
    }
  };

  const openDay = async (d: string): Promise<FileHandle> => {
    if (handle && day === d) return handle;
    const old = handle;
    handle = null;
    await old?.close();
    const existed = fs.existsSync(fileOf(d));
    // a write cut short leaves part of a line, never acknowledged; a line appended onto it would
    // be lost with it when the trace is read back, so the next write starts on a new line
    torn = existed && endsInsideLine(fileOf(d));
    const h = await fs.promises.open(fileOf(d), APPEND_FLAGS);
    size = (await h.stat()).size;
    if (!existed) {
      fsyncDir(dir);
      prune();
    }
    handle = h;
    day = d;
    return h;
  };

  const commit = async (batch: Pending[]): Promise<void> => {
    // a batch may straddle midnight (UTC): one write per day, in order
    let i = 0;
    while (i < batch.length) {
      const d = batch[i]!.day;
      let j = i;
      let text = '';
      while (j < batch.length && batch[j]!.day === d) text += batch[j++]!.line;
      const h = await openDay(d);
      const buf = Buffer.from(torn ? `\n${text}` : text, 'utf8');
      const start = size;
      try {
        // a full disk may take part of a write: write the rest, and if that fails, cut the
        // file back so no torn line stays and later lines do not glue onto it
        for (let off = 0; off < buf.length; ) {
          const { bytesWritten } = await h.write(buf, off, buf.length - off);
          if (bytesWritten <= 0) throw new Error(`short write to ${fileOf(d)}: no space left`);
          off += bytesWritten;
        }
        if (!DSYNC) await h.datasync();
        size = start + buf.length;
        torn = false;
      } catch (err) {
        await h.truncate(start).catch(() => undefined);
        throw err;
      }
      i = j;
    }
  };

  const flush = (): Promise<void> => {
    const batch = queue;
    queue = [];
    const started = performance.now();
    const run = commit(batch).then(
      () => {
        const ms = performance.now() - started;
        commitMs.add(ms);
        stats.commitMsTotal += ms;
        if (ms > stats.commitMsMax) stats.commitMsMax = ms;
        stats.written += batch.length;
        for (const p of batch) p.done();
      },
      async (err: unknown) => {
        const e = err instanceof Error ? err : new Error(String(err));
        stats.failed += batch.length;
        stats.lastError = e.message;
        // a broken handle (disk gone, file removed) is reopened for the next batch
        const h = handle;
        handle = null;
        day = '';
        await h?.close().catch(() => undefined);
        for (const p of batch) p.done(e);
      },
    );
    flushing = run.then(() => {
      flushing = null;
      if (queue.length) return flush();
    });
    return flushing;
  };

  let starting = false;
  const start = (): void => {
    starting = false;
    if (!flushing && queue.length) void flush(); // never rejects: failures are handed to each event's `done`
  };

  // the receive time as text, kept per millisecond: under load many events share one (README "Benchmarks")
  let isoMs = NaN;
  let isoText = '';
  let isoDay = '';

  return {
    record(ev, recvMs, done, wire) {
      if (closed) return done(new Error('trace recorder is closed'));
      if (recvMs !== isoMs) {
        isoText = new Date(recvMs).toISOString();
        isoDay = isoText.slice(0, 10);
        isoMs = recvMs;
      }
      queue.push({ day: isoDay, line: `${traceLine(ev, isoText, wire)}\n`, done });
      // the first event of a batch starts the write once the loop has read what else came with
      // it (setImmediate runs after the poll phase): publishes read together share one commit
      // instead of the later ones waiting a whole commit behind the first. Events that come while
      // a write is in flight go in the next one.
      if (!flushing && !starting) {
        starting = true;
        later(start);
      }
    },
    files,
    stats: () => ({ ...stats, commits: commitMs.count, queued: queue.length, commitMs: commitMs.figures() }),
    async close() {
      closed = true;
      while (flushing) await flushing;
      if (queue.length) await flush();
      const h = handle;
      handle = null;
      await h?.close();
    },
  };
}
