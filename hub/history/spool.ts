import { promises as fsp } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { pino, type Logger } from 'pino';
import { ErrorCodes, GwError } from '../../contract/index.ts';

// Points wait here while InfluxDB is down or slow (README "History"). A record is one batch
// of line-protocol points; it is appended to a segment file `NNNNNNNNNNNN.spool` (its name
// is the id of its first record) as one JSON line
//   {"id":7,"n":2,"crc":"<8 hex digits>","lines":["visit,store=s1 …","…"]}
// where crc is the CRC-32 of `${id} ${n} ${lines as JSON}`: a line cut off by kill -9 or a
// power cut, or damaged on disk, fails it. An append resolves once its line is written and
// fdatasync'ed; appends made while a write is in flight (or in the same tick) share the next
// write and its one fdatasync, as in trace-recorder.ts. A new segment is followed by an fsync
// of the folder, so the file survives a power cut too.
//
// `ack.json` holds the cursor: every id <= acked has been written downstream or dropped by
// the bound. It is replaced atomically (tmp, fsync, rename, folder fsync) and segments whose
// records are all under it are deleted. Replaying a record after a crash is harmless
// (InfluxDB overwrites a point with the same identity), so the cursor may lag, never lead.
//
// The unacked records are kept in memory (the spool is bounded by maxBytes, and it is what
// the drain reads next); the segments are only read on open. On open, bad lines at the end
// of the last segment are a write that never completed (its append never resolved): they
// are cut off so the next append does not glue onto them. A bad line anywhere else is
// damage: logged with file and line, skipped, counted as corrupt.

export interface SpoolOptions {
  /** created if missing (recursive), fsync'd */
  dir: string;
  /** bound on the unacked bytes; past it the oldest records are dropped (counted, logged). Default 256 MiB */
  maxBytes?: number;
  /** a segment that would grow past this is closed and a new one started. Default 8 MiB */
  segmentBytes?: number;
  /** pino; the spool logs as child 'hub:spool' */
  log?: Logger;
  /** file operations; tests inject failures and count syncs through it. Default: node:fs promises */
  fs?: SpoolFs;
}

/** id: increases with every append, across restarts (ids of failed appends are skipped) */
export interface SpoolRecord {
  id: number;
  lines: string[];
}

export interface SpoolStats {
  /** unacked records */
  records: number;
  /** points in them */
  points: number;
  /** their size on disk */
  bytes: number;
  /** points dropped by the maxBytes bound (this process; 0 after a restart) */
  dropped: number;
  /** segment files on disk */
  segments: number;
  /** fsync/fdatasync calls issued (segments, cursor file, folder) */
  syncs: number;
  /** damaged records skipped on open (not counting a torn last write) */
  corrupt: number;
}

export interface Spool {
  /** appends one record (a batch of points) durably: resolves after write + fdatasync. Concurrent appends are grouped into one fsync (group commit). Rejects with GwError(ErrorCodes.STORE_IO, ...) naming the file when the disk write fails (the caller keeps the data and retries); a failed append must not corrupt the spool. */
  append(lines: readonly string[]): Promise<SpoolRecord>;
  /** the oldest unacknowledged records, up to maxPoints points in total (at least one record if any), in append order, without removing them */
  peek(maxPoints: number): SpoolRecord[];
  /** acknowledges every record with id <= upTo: they will never be returned again, even after a restart. Durable (fsync of a small ack/cursor file or segment deletion, written atomically via tmp+rename+dir fsync). */
  ack(upTo: number): Promise<void>;
  stats(): SpoolStats;
  close(): Promise<void>;
}

/** the part of a FileHandle the spool uses */
export interface SpoolFile {
  write(buffer: Uint8Array, offset: number, length: number): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
  sync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

/** the file operations the spool uses (node:fs promises by default) */
export interface SpoolFs {
  /** mkdir -p; resolves with the first folder it created, undefined when all existed */
  mkdir(dir: string): Promise<string | undefined>;
  readdir(dir: string): Promise<string[]>;
  readFile(file: string): Promise<Buffer>;
  open(file: string, flags: 'r' | 'r+' | 'w' | 'a' | 'ax'): Promise<SpoolFile>;
  rename(from: string, to: string): Promise<void>;
  unlink(file: string): Promise<void>;
}

export function nodeSpoolFs(): SpoolFs {
  return {
    mkdir: (dir) => fsp.mkdir(dir, { recursive: true }),
    readdir: (dir) => fsp.readdir(dir),
    readFile: (file) => fsp.readFile(file),
    open: (file, flags) => fsp.open(file, flags),
    rename: (from, to) => fsp.rename(from, to),
    unlink: (file) => fsp.unlink(file),
  };
}

export const DEFAULT_SPOOL_MAX_BYTES = 256 * 1024 * 1024;
export const DEFAULT_SPOOL_SEGMENT_BYTES = 8 * 1024 * 1024;

const SEGMENT = /^(\d{12,})\.spool$/;
const HEADER = /^\{"id":(\d{1,16}),"n":(\d{1,16}),"crc":"([0-9a-f]{8})","lines":/;
const CURSOR = 'ack.json';
/** longest possible HEADER match, in bytes */
const HEADER_MAX = 80;

export const segmentName = (firstId: number): string => `${String(firstId).padStart(12, '0')}.spool`;

/**
 * CRC-32 (IEEE, as zlib/PNG) over the concatenated parts: node:zlib's (Node >= 20.15, ten
 * times faster on a batch of thousands of points), else a table in JS; `js` forces the latter
 */
export function makeCrc32(opts: { js?: boolean } = {}): (parts: readonly Uint8Array[]) => number {
  const native = opts.js ? undefined : (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
  if (native) {
    return (parts) => {
      let c = 0;
      for (const p of parts) c = native(p, c);
      return c >>> 0;
    };
  }
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return (parts) => {
    let c = 0xffffffff;
    for (const p of parts) {
      for (let i = 0; i < p.length; i++) c = table[(c ^ p[i]!) & 0xff]! ^ (c >>> 8);
    }
    return (c ^ 0xffffffff) >>> 0;
  };
}

interface Rec {
  readonly id: number;
  readonly lines: string[];
  /** framed size on disk, newline included */
  readonly bytes: number;
}

interface Segment {
  readonly file: string;
  /** the id in its name: every record in it has this id or a higher one, below the next segment's */
  readonly first: number;
  /** bytes of whole records */
  size: number;
  /** highest id written to it (first - 1 when none) */
  last: number;
  handle: SpoolFile | null;
}

interface PendingAppend {
  readonly rec: Rec;
  readonly buf: Buffer;
  readonly resolve: (r: SpoolRecord) => void;
  readonly reject: (err: Error) => void;
}

interface AckWaiter {
  readonly upTo: number;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

const errMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const errCode = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | null)?.code;
const ioError = (what: string, err?: unknown): GwError =>
  new GwError(ErrorCodes.STORE_IO, err === undefined ? `spool: ${what}` : `spool: ${what}: ${errMessage(err)}`, { cause: err });

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((l: unknown) => typeof l === 'string');

function positiveInt(name: string, v: number | undefined, dflt: number): number {
  const n = v ?? dflt;
  if (!Number.isSafeInteger(n) || n < 1) throw new GwError(ErrorCodes.CONFIG_INVALID, `spool: ${name} must be a whole number >= 1, got ${n}`);
  return n;
}

export async function openSpool(opts: SpoolOptions): Promise<Spool> {
  const dir = path.resolve(opts.dir);
  const maxBytes = positiveInt('maxBytes', opts.maxBytes, DEFAULT_SPOOL_MAX_BYTES);
  const segmentBytes = positiveInt('segmentBytes', opts.segmentBytes, DEFAULT_SPOOL_SEGMENT_BYTES);
  const fs = opts.fs ?? nodeSpoolFs();
  const base = opts.log ?? pino();
  // a caller may already hand in the 'hub:spool' child: a second one would repeat the key
  const log = base.bindings().name === 'hub:spool' ? base : base.child({ name: 'hub:spool' });
  const crc32 = makeCrc32();
  const cursorFile = path.join(dir, CURSOR);

  // unacked records in append order: records[head..]; the head index avoids O(n) shifts
  const records: Rec[] = [];
  let head = 0;
  let bytes = 0;
  let points = 0;
  const segments: Segment[] = [];
  /** the segment appends go to; null: the next append starts a new one */
  let active: Segment | null = null;
  let nextId = 1;
  /** highest id whose append resolved: acks beyond it must not swallow later appends */
  let lastCommitted = 0;
  /** cursor in memory (acks and drops) and on disk */
  let acked = 0;
  let durable = 0;
  let cursorDirty = false;
  let pruneWanted = false;
  let queue: PendingAppend[] = [];
  let waiters: AckWaiter[] = [];
  let running: Promise<void> | null = null;
  let closed = false;
  let closing: Promise<void> | null = null;
  let syncs = 0;
  let corrupt = 0;
  let dropped = 0;
  let overflowing = false;
  let episodeDropped = 0;

  const hex8 = (n: number): string => n.toString(16).padStart(8, '0');

  const encode = (id: number, lines: readonly string[]): Buffer => {
    const body = Buffer.from(JSON.stringify(lines), 'utf8');
    const crc = crc32([Buffer.from(`${id} ${lines.length} `, 'latin1'), body]);
    const start = Buffer.from(`{"id":${id},"n":${lines.length},"crc":"${hex8(crc)}","lines":`, 'latin1');
    return Buffer.concat([start, body, Buffer.from('}\n', 'latin1')]);
  };

  /** a record, or why the line is not one; `line` has no newline */
  const decode = (line: Buffer): Rec | string => {
    const m = HEADER.exec(line.toString('latin1', 0, Math.min(line.length, HEADER_MAX)));
    if (!m || line[line.length - 1] !== 0x7d) return 'bad framing';
    const id = Number(m[1]);
    const n = Number(m[2]);
    if (!Number.isSafeInteger(id) || id < 1 || !Number.isSafeInteger(n)) return 'bad framing';
    const body = line.subarray(m[0].length, line.length - 1);
    if (hex8(crc32([Buffer.from(`${id} ${n} `, 'latin1'), body])) !== m[3]) return 'checksum mismatch';
    let lines: unknown;
    try {
      lines = JSON.parse(body.toString('utf8'));
    } catch {
      return 'bad JSON';
    }
    if (!isStrings(lines) || lines.length !== n) return 'bad lines';
    return { id, lines, bytes: line.length + 1 };
  };

  const syncDir = async (d: string): Promise<void> => {
    let h: SpoolFile | null = null;
    try {
      h = await fs.open(d, 'r');
      syncs++;
      await h.sync();
    } catch {
      // some filesystems refuse fsync on a folder; the file's own fsync still holds
    } finally {
      await h?.close().catch(() => undefined);
    }
  };

  /** writes all of buf: a full disk may take part of a write */
  const writeAll = async (h: SpoolFile, buf: Buffer, file: string): Promise<void> => {
    for (let off = 0; off < buf.length; ) {
      const { bytesWritten } = await h.write(buf, off, buf.length - off);
      if (bytesWritten <= 0) throw new Error(`short write to ${file}: no space left`);
      off += bytesWritten;
    }
  };

  /** replaces file with text so that a crash leaves the old or the new content, never a mix */
  const writeAtomic = async (file: string, text: string): Promise<void> => {
    const tmp = `${file}.tmp`;
    const h = await fs.open(tmp, 'w');
    try {
      await writeAll(h, Buffer.from(text, 'utf8'), tmp);
      syncs++;
      await h.sync();
    } finally {
      await h.close();
    }
    await fs.rename(tmp, file);
    await syncDir(dir);
  };

  // forgotten records leave memory as soon as they are half the array (amortised O(1) per
  // record): a record holds a whole batch of point lines, up to 5,000 on a busy hub
  const compactHead = (): void => {
    if (head > 0 && head * 2 >= records.length) {
      records.splice(0, head);
      head = 0;
    }
  };

  /** forgets records with id <= upTo (acked or dropped) from memory */
  const forget = (upTo: number): number => {
    let n = 0;
    while (head < records.length && records[head]!.id <= upTo) {
      const r = records[head++]!;
      bytes -= r.bytes;
      points -= r.lines.length;
      n += r.lines.length;
    }
    compactHead();
    return n;
  };

  /** enforces maxBytes by dropping the oldest records; the newest one always stays */
  const trim = (): void => {
    if (bytes <= maxBytes || records.length - head <= 1) return;
    let upTo = 0;
    for (let i = head, b = bytes; i < records.length - 1 && b > maxBytes; i++) {
      b -= records[i]!.bytes;
      upTo = records[i]!.id;
    }
    const n = forget(upTo);
    dropped += n;
    acked = Math.max(acked, upTo);
    cursorDirty = true;
    if (!overflowing) {
      // once per episode: a weeks-long outage would otherwise log on every append
      overflowing = true;
      episodeDropped = 0;
      log.error(
        { code: ErrorCodes.STORE_IO, dir, maxBytes, droppedPoints: n, droppedUpTo: upTo },
        'history spool full: dropping the oldest points to keep the newest (logged once until the spool drains)',
      );
    }
    episodeDropped += n;
  };

  const endEpisode = (): void => {
    if (!overflowing || bytes > maxBytes / 2) return;
    overflowing = false;
    log.warn({ code: ErrorCodes.STORE_IO, dir, droppedPoints: episodeDropped, droppedTotal: dropped }, 'history spool drained below half its bound; points dropped while it was full');
  };

  const retire = async (seg: Segment): Promise<void> => {
    if (active === seg) active = null;
    pruneWanted = true;
    const h = seg.handle;
    seg.handle = null;
    await h?.close().catch(() => undefined);
  };

  /** the segment the record `firstId` goes to, open for appending */
  const writable = async (firstId: number): Promise<{ seg: Segment; h: SpoolFile }> => {
    const seg = active;
    if (seg) {
      try {
        seg.handle ??= await fs.open(seg.file, 'a');
      } catch (err) {
        throw ioError(`cannot open ${seg.file}`, err);
      }
      return { seg, h: seg.handle };
    }
    const file = path.join(dir, segmentName(firstId));
    let h: SpoolFile;
    try {
      // 'ax': names only grow, so a file already there is not one of ours to append to
      h = await fs.open(file, 'ax');
    } catch (err) {
      throw ioError(`cannot create ${file}`, err);
    }
    const created: Segment = { file, first: firstId, size: 0, last: firstId - 1, handle: h };
    segments.push(created);
    active = created;
    await syncDir(dir);
    return { seg: created, h };
  };

  /** after a failed write: cut the file back so no torn record stays and later ones do not glue onto it */
  const undo = async (seg: Segment, h: SpoolFile, size: number): Promise<void> => {
    try {
      await h.truncate(size);
    } catch (err) {
      log.error({ code: ErrorCodes.STORE_IO, file: seg.file, err: errMessage(err) }, 'history spool: cannot cut a failed write back; later appends go to a new segment');
      await retire(seg);
    }
  };

  const commit = async (batch: PendingAppend[]): Promise<void> => {
    let i = 0;
    try {
      while (i < batch.length) {
        const first = batch[i]!;
        if (active && active.size > 0 && active.size + first.buf.length > segmentBytes) await retire(active);
        let target: { seg: Segment; h: SpoolFile };
        try {
          target = await writable(first.rec.id);
        } catch (err) {
          const e = err instanceof GwError ? err : ioError('cannot open a segment', err);
          for (const p of batch.slice(i)) p.reject(e);
          return;
        }
        const { seg, h } = target;
        // as many records as fit the segment, at least one (a record may be bigger than a segment)
        let j = i + 1;
        let len = first.buf.length;
        while (j < batch.length && seg.size + len + batch[j]!.buf.length <= segmentBytes) len += batch[j++]!.buf.length;
        const chunk = batch.slice(i, j);
        const start = seg.size;
        try {
          // append mode: after a failed write is cut back, the next one lands right after `start`
          await writeAll(
            h,
            Buffer.concat(
              chunk.map((p) => p.buf),
              len,
            ),
            seg.file,
          );
          syncs++;
          await h.datasync();
        } catch (err) {
          await undo(seg, h, start);
          const e = ioError(`cannot write ${seg.file}`, err);
          // later records of the batch fail too: order is kept, the callers retry them
          for (const p of batch.slice(i)) p.reject(e);
          return;
        }
        seg.size = start + len;
        for (const p of chunk) {
          records.push(p.rec);
          bytes += p.rec.bytes;
          points += p.rec.lines.length;
          lastCommitted = p.rec.id;
        }
        seg.last = lastCommitted;
        trim();
        for (const p of chunk) p.resolve({ id: p.rec.id, lines: p.rec.lines.slice() });
        i = j;
      }
    } catch (err) {
      // not expected (every I/O step above handles its own errors), but no append may hang
      const e = ioError('append failed', err);
      for (const p of batch.slice(i)) p.reject(e);
    }
  };

  const settleWaiters = (err?: Error): void => {
    const keep: AckWaiter[] = [];
    for (const w of waiters) {
      if (w.upTo <= durable) w.resolve();
      else if (err) w.reject(err);
      else keep.push(w);
    }
    waiters = keep;
  };

  const persistCursor = async (): Promise<void> => {
    cursorDirty = false;
    const target = acked;
    if (target > durable) {
      try {
        try {
          await writeAtomic(cursorFile, JSON.stringify({ acked: target }) + '\n');
        } catch {
          // a full disk: the new cursor needs a block that only deleting segments can free. Those
          // wholly acked may go first (after a restart on the old cursor InfluxDB has them all the
          // same: what is left is written again, and overwrites), then the cursor once more
          await prune(target);
          await writeAtomic(cursorFile, JSON.stringify({ acked: target }) + '\n');
        }
      } catch (err) {
        const e = ioError(`cannot write ${cursorFile}`, err);
        log.error({ code: ErrorCodes.STORE_IO, file: cursorFile, err: errMessage(err) }, 'history spool: cannot save the ack cursor; acked points may be written again after a restart');
        settleWaiters(e);
        return;
      }
      durable = target;
      // before the ack resolves, so a drained spool leaves only its active segment on disk
      await prune();
    }
    settleWaiters();
  };

  /** deletes the segments whose records are all under the durable cursor, or `under` (never the active one) */
  const prune = async (under = durable): Promise<void> => {
    pruneWanted = false;
    let removed = 0;
    while (segments.length > 0) {
      const seg = segments[0]!;
      if (seg === active) break;
      const upTo = segments.length > 1 ? segments[1]!.first - 1 : seg.last;
      if (upTo > under) break;
      try {
        await fs.unlink(seg.file);
      } catch (err) {
        if (errCode(err) !== 'ENOENT') {
          log.error({ code: ErrorCodes.STORE_IO, file: seg.file, err: errMessage(err) }, 'history spool: cannot delete an acked segment; retried after the next ack');
          break;
        }
      }
      segments.shift();
      removed++;
    }
    if (removed > 0) await syncDir(dir);
  };

  const pump = async (): Promise<void> => {
    await Promise.resolve(); // appends made in the same tick join this batch: one fdatasync for all
    try {
      for (;;) {
        if (queue.length > 0) {
          const batch = queue;
          queue = [];
          await commit(batch);
        } else if (cursorDirty) await persistCursor();
        else if (pruneWanted) await prune();
        else break;
      }
    } catch (err) {
      // a bug guard: nothing may wait forever
      const e = ioError('internal error', err);
      log.error({ code: ErrorCodes.STORE_IO, dir, err: errMessage(err) }, 'history spool: unexpected error');
      for (const p of queue) p.reject(e);
      queue = [];
      settleWaiters(e);
    } finally {
      running = null;
    }
  };

  const kick = (): void => {
    running ??= pump();
  };

  // ------------------------------------------------------------------ open

  let first: string | undefined;
  try {
    first = await fs.mkdir(dir);
  } catch (err) {
    throw ioError(`cannot create ${dir}`, err);
  }
  if (first !== undefined) {
    // every new folder's entry must survive a power cut, from the parent of the first one down
    const chain: string[] = [];
    for (let d = dir; ; d = path.dirname(d)) {
      chain.unshift(d);
      if (d === first || d === path.dirname(d)) break;
    }
    await syncDir(path.dirname(chain[0]!));
    for (const d of chain) await syncDir(d);
  }

  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    throw ioError(`cannot read ${dir}`, err);
  }
  if (names.includes(`${CURSOR}.tmp`)) await fs.unlink(path.join(dir, `${CURSOR}.tmp`)).catch(() => undefined);

  // cursor
  try {
    const text = (await fs.readFile(cursorFile)).toString('utf8');
    let v: unknown = null;
    try {
      v = JSON.parse(text);
    } catch {
      // handled below
    }
    const a = typeof v === 'object' && v !== null && 'acked' in v ? v.acked : undefined;
    if (typeof a === 'number' && Number.isSafeInteger(a) && a >= 0) durable = a;
    else {
      // written atomically, so not a torn write; replaying is safe (idempotent writes)
      log.error({ code: ErrorCodes.STORE_IO, file: cursorFile }, 'history spool: ack cursor unreadable; every spooled record will be written again');
    }
  } catch (err) {
    if (errCode(err) !== 'ENOENT') throw ioError(`cannot read ${cursorFile}`, err);
  }
  acked = durable;

  // segments, oldest first
  const found = names
    .map((n) => SEGMENT.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ file: path.join(dir, m[0]), first: Number(m[1]) }))
    .filter((s) => Number.isSafeInteger(s.first))
    .sort((a, b) => a.first - b.first);
  let maxId = durable;
  let loggedCorrupt = 0;
  const reportCorrupt = (file: string, line: number, why: string): void => {
    corrupt++;
    // a whole damaged segment would otherwise log thousands of lines
    if (loggedCorrupt++ < 20) log.error({ code: ErrorCodes.STORE_IO, file, line, why }, 'history spool: skipped a damaged record');
  };
  for (let s = 0; s < found.length; s++) {
    const { file, first: firstId } = found[s]!;
    let buf: Buffer;
    try {
      buf = await fs.readFile(file);
    } catch (err) {
      if (errCode(err) === 'EISDIR') {
        log.warn({ file }, 'history spool: a folder has the name of a segment; ignored');
        continue;
      }
      throw ioError(`cannot read ${file}`, err);
    }
    maxId = Math.max(maxId, firstId - 1);
    const seg: Segment = { file, first: firstId, size: buf.length, last: firstId - 1, handle: null };
    let pos = 0;
    let lineNo = 0;
    let goodEnd = 0;
    /** bad lines since the last good record: damage if a good one follows, else a torn tail */
    let bad: { line: number; why: string }[] = [];
    while (pos < buf.length) {
      const nl = buf.indexOf(0x0a, pos);
      const end = nl === -1 ? buf.length : nl + 1;
      lineNo++;
      let rec: Rec | string = nl === -1 ? 'no newline' : decode(buf.subarray(pos, nl));
      if (typeof rec !== 'string' && rec.id <= maxId && rec.id > durable) rec = 'id not increasing';
      if (typeof rec === 'string') bad.push({ line: lineNo, why: rec });
      else {
        for (const b of bad) reportCorrupt(file, b.line, b.why);
        bad = [];
        goodEnd = end;
        seg.last = Math.max(seg.last, rec.id);
        if (rec.id > maxId) {
          maxId = rec.id;
          if (rec.id > durable) {
            records.push(rec);
            bytes += rec.bytes;
            points += rec.lines.length;
          }
        }
      }
      pos = end;
    }
    const isLast = s === found.length - 1;
    if (bad.length > 0 && !isLast) {
      for (const b of bad) reportCorrupt(file, b.line, b.why);
    } else if (bad.length > 0) {
      log.warn({ file, bytes: buf.length - goodEnd, at: goodEnd }, 'history spool: ignored a torn last write (the hub stopped while writing it; it was never acknowledged)');
      try {
        const h = await fs.open(file, 'r+');
        try {
          await h.truncate(goodEnd);
          syncs++;
          await h.datasync();
        } finally {
          await h.close();
        }
        seg.size = goodEnd;
      } catch (err) {
        // the torn bytes stay: new records go to a new segment, and the next open counts them as damage
        log.error({ code: ErrorCodes.STORE_IO, file, err: errMessage(err) }, 'history spool: cannot cut off the torn write');
        segments.push(seg);
        continue;
      }
    }
    segments.push(seg);
    if (isLast) active = seg;
  }
  nextId = maxId + 1;
  lastCommitted = maxId;
  if (corrupt > 0) log.error({ code: ErrorCodes.STORE_IO, dir, corrupt }, 'history spool: damaged records skipped on open');

  trim(); // opened with a smaller maxBytes than it was written with
  if (cursorDirty) await persistCursor();
  await prune();

  log.debug({ dir, records: records.length - head, points, bytes, segments: segments.length, nextId }, 'history spool open');

  return {
    async append(lines) {
      if (closed) throw ioError(`${dir} is closed; cannot append`);
      for (const l of lines) {
        if (typeof l !== 'string') throw new TypeError(`spool: a point must be a string, got ${typeof l}`);
      }
      const id = nextId++;
      const copy = Array.from(lines);
      const buf = encode(id, copy);
      return new Promise<SpoolRecord>((resolve, reject) => {
        queue.push({ rec: { id, lines: copy, bytes: buf.length }, buf, resolve, reject });
        kick();
      });
    },

    peek(maxPoints) {
      const out: SpoolRecord[] = [];
      let n = 0;
      for (let i = head; i < records.length; i++) {
        const r = records[i]!;
        if (out.length > 0 && n + r.lines.length > maxPoints) break;
        out.push({ id: r.id, lines: r.lines.slice() });
        n += r.lines.length;
      }
      return out;
    },

    async ack(upTo) {
      if (closed) throw ioError(`${dir} is closed; cannot ack`);
      if (!Number.isSafeInteger(upTo)) throw new RangeError(`spool: ack needs a record id, got ${upTo}`);
      const u = Math.min(upTo, lastCommitted);
      if (u <= durable) return;
      if (u > acked) {
        acked = u;
        forget(u);
        endEpisode();
      }
      cursorDirty = true;
      return new Promise<void>((resolve, reject) => {
        waiters.push({ upTo: u, resolve, reject });
        kick();
      });
    },

    stats: () => ({ records: records.length - head, points, bytes, dropped, segments: segments.length, syncs, corrupt }),

    close() {
      closing ??= (async () => {
        closed = true;
        if (acked > durable) cursorDirty = true; // drops whose cursor write failed: one more try
        kick();
        while (running) await running;
        const h = active?.handle;
        if (active) active.handle = null;
        try {
          await h?.close();
        } catch (err) {
          throw ioError(`cannot close ${active?.file ?? dir}`, err);
        }
      })();
      return closing;
    },
  };
}
