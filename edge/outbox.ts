import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger } from 'pino';
import { lockSync } from 'proper-lockfile';
import { ErrorCodes, parseSource, sourceOf, validateEvent, type GwEvent } from '../contract/index.ts';
import { EdgeError, EdgeErrorCodes } from './errors.ts';

// Events wait here until the broker acknowledges them (QoS 1 PUBACK), so a broker outage
// or a kill -9 of the node loses nothing it saw (CONTRACT.md "reorderS": nodes buffer;
// the hub drops duplicates by (source, id), so sending one twice is harmless).
// The one exception is a full outbox: it is bounded (maxEvents) and then gives up the
// oldest events, counted as dropped, so a broker outage of days cannot fill the SD card.
// (A dropped event that was already in flight may still reach the hub; its PUBACK then
// finds nothing to ack.)

export interface Outbox {
  /** keeps the event until ack(id); a second add of the same id is ignored; when full the oldest pending events are dropped */
  add(event: GwEvent): void;
  /** pending events in the order they were added (safe to ack while iterating) */
  pending(): IterableIterator<GwEvent>;
  /** the oldest pending event */
  peek(): GwEvent | undefined;
  /** forgets a published event; false if it was not pending */
  ack(id: string): boolean;
  size(): number;
  /** events dropped unsent because the outbox was full, counted per process (not persisted: 0 after a restart) */
  dropped(): number;
  close(): void;
}

export interface OutboxOptions {
  /** most pending events kept (default 100_000); an add beyond it drops the oldest */
  maxEvents?: number;
  log?: Logger;
  /** time source of the rate-limited drop warning (default Date.now) */
  now?: () => number;
}

export const DEFAULT_MAX_EVENTS = 100_000;
/** the "outbox full" warning is logged at most this often, with the count since the last one */
export const DROP_LOG_EVERY_MS = 10_000;

interface Bounded {
  readonly events: Map<string, GwEvent>;
  /** makes room for one more event: removes and returns the ids of the oldest ones over the bound */
  makeRoom(): string[];
  /** drops the oldest events until at most maxEvents are left (a journal replayed under a smaller bound) */
  trim(): string[];
  // closures, not methods: the outboxes hand them on as their own dropped/close
  readonly dropped: () => number;
  /** logs drops not logged yet and stops the warning timer */
  readonly close: () => void;
}

function bounded(opts: OutboxOptions, what: string): Bounded {
  const maxEvents = opts.maxEvents ?? DEFAULT_MAX_EVENTS;
  if (!Number.isSafeInteger(maxEvents) || maxEvents < 1) {
    throw new EdgeError(EdgeErrorCodes.USAGE, `${what}: maxEvents must be a whole number >= 1, got ${maxEvents}`);
  }
  const log = opts.log;
  const now = opts.now ?? Date.now;
  const events = new Map<string, GwEvent>();
  let total = 0;
  let unlogged = 0;
  let lastLogAt = Number.NEGATIVE_INFINITY;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const flush = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (unlogged === 0) return;
    log?.warn({ dropped: unlogged, droppedTotal: total, maxEvents }, `${what}: full, dropped the oldest unsent events`);
    unlogged = 0;
    lastLogAt = now();
  };

  const drop = (keep: number): string[] => {
    const ids: string[] = [];
    for (const id of events.keys()) {
      if (events.size - ids.length <= keep) break;
      ids.push(id);
    }
    for (const id of ids) events.delete(id);
    if (ids.length === 0) return ids;
    total += ids.length;
    unlogged += ids.length;
    const wait = lastLogAt + DROP_LOG_EVERY_MS - now();
    if (wait <= 0) flush();
    else if (timer === undefined) {
      // the tail of a burst is logged when the window ends, not only at the next drop
      timer = setTimeout(flush, wait);
      timer.unref();
    }
    return ids;
  };

  return {
    events,
    makeRoom: () => drop(maxEvents - 1),
    trim: () => drop(maxEvents),
    dropped: () => total,
    close: flush,
  };
}

export function memoryOutbox(opts: OutboxOptions = {}): Outbox {
  const b = bounded(opts, 'memory outbox');
  const { events } = b;
  return {
    add(event) {
      if (events.has(event.id)) return;
      b.makeRoom();
      events.set(event.id, event);
    },
    pending: () => events.values(),
    peek: () => events.values().next().value,
    ack: (id) => events.delete(id),
    size: () => events.size,
    dropped: b.dropped,
    close: b.close,
  };
}

// ---------------------------------------------------------------- file-backed

export interface FileOutboxOptions extends OutboxOptions {
  /** the node this journal belongs to: written to node.json on first open, checked on every open */
  store: string;
  node: string;
  /** compact when the journal has at least this many lines and pending events are under half of them */
  compactAtLines?: number;
}

export interface FileOutboxStats {
  pending: number;
  journalLines: number;
  compactions: number;
  /** lines skipped at open: a torn last line after a crash, garbage, or an event of another node */
  badLines: number;
  /** events dropped unsent because the outbox was full (this process) */
  dropped: number;
}

export interface FileOutbox extends Outbox {
  readonly file: string;
  stats(): FileOutboxStats;
}

const JOURNAL = 'outbox.jsonl';
const IDENTITY = 'node.json';
/** a directory made by proper-lockfile (mkdir is atomic); its mtime is the holder's heartbeat */
const LOCK = 'node.lock';
/** the PID file of the lock this one replaced: nothing reads it any more */
const LEGACY_LOCK = 'outbox.lock';

// Lock timing. proper-lockfile calls a lock stale when its mtime is older than `stale`, and
// the holder touches the mtime every `update` ms from a timer; it enforces stale >= 2000 and
// 1000 <= update <= stale / 2. A node killed with SIGKILL leaves its lock behind and the
// next start may take it over `stale` ms after the last touch (+ up to 1 s: the library rounds
// the first mtime up to a whole second). 5 s / 1 s: a restarted node waits at most ~6 s
// (openFileOutbox waits for it), while the holder may miss 4 touches in a row (event loop
// stalled by a slow SD card, a long compaction) before a second process could steal the lock.
// The library only sees a lock as stale when its mtime is too old. A Pi has no RTC: after a
// power cut it boots with the time fake-hwclock saved earlier, so the dead holder's mtime lies
// in the future and would block the node until the clock caught up (up to an hour). So a
// mtime more than LOCK_STALE_MS ahead is stale too (a live holder fixes its mtime within
// LOCK_UPDATE_MS of a clock step back, so only that second is at risk).
export const LOCK_STALE_MS = 5_000;
export const LOCK_UPDATE_MS = 1_000;

type JournalLine = { add: unknown } | { ack: unknown } | { drop: unknown };

const errMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const errCode = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | null)?.code;

function ioError(what: string, err: unknown): EdgeError {
  return new EdgeError(EdgeErrorCodes.OUTBOX_IO, `outbox: ${what}: ${errMessage(err)}`, { cause: err });
}

/** errors of fileOutbox that say "another process holds the folder": openFileOutbox retries these */
const lockHeldErrors = new WeakSet<EdgeError>();

function fsyncDir(dir: string): void {
  let dfd: number | null = null;
  try {
    dfd = fs.openSync(dir, 'r');
    fs.fsyncSync(dfd);
  } catch {
    // some filesystems do not allow fsync on a directory; the rename is still atomic
  } finally {
    if (dfd !== null) fs.closeSync(dfd);
  }
}

/** Replaces `file` with `body` so that a crash leaves the old or the new content, never a mix. */
function writeAtomic(dir: string, file: string, body: string): void {
  const tmp = `${file}.tmp`;
  const tfd = fs.openSync(tmp, 'w');
  try {
    fs.writeFileSync(tfd, body);
    fs.fsyncSync(tfd);
  } catch (err) {
    try {
      fs.rmSync(tmp, { force: true }); // a full disk: the partial copy only takes room
    } catch {
      // the next compaction overwrites it
    }
    throw err;
  } finally {
    fs.closeSync(tfd);
  }
  fs.renameSync(tmp, file);
  fsyncDir(dir);
}

type Identity = { store: string; node: string };

/** The node named by the folder's identity file, or null when there is none yet. */
function readIdentity(dir: string): Identity | null {
  const file = path.join(dir, IDENTITY);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (errCode(err) === 'ENOENT') return null;
    throw ioError(`cannot read ${file}`, err);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = null;
  }
  const id = parsed as Partial<Identity> | null;
  if (typeof id?.store !== 'string' || typeof id.node !== 'string') {
    // written atomically, so this is not a torn write: someone must look before events are mixed up
    throw new EdgeError(EdgeErrorCodes.OUTBOX_IO, `outbox: ${file} does not name a node (expected {"store","node"}); refusing to use ${dir}`);
  }
  return { store: id.store, node: id.node };
}

function checkIdentity(dir: string, found: Identity | null, want: Identity): void {
  if (found && (found.store !== want.store || found.node !== want.node)) {
    throw new EdgeError(
      EdgeErrorCodes.OUTBOX_IO,
      `outbox: ${dir} belongs to node ${found.store}/${found.node}, not ${want.store}/${want.node}: give every node its own data dir`,
    );
  }
}

/** One writer per journal: a second process on the same folder would interleave or compact away lines. */
function takeLock(dir: string, who: Identity, log: Logger | undefined): () => void {
  const lockPath = path.join(dir, LOCK);
  let leftOver = false;
  try {
    const st = fs.statSync(lockPath);
    leftOver = true;
    if (st.mtimeMs > Date.now() + LOCK_STALE_MS) {
      fs.rmdirSync(lockPath);
      leftOver = false;
      log?.warn({ lock: lockPath }, 'outbox: removed a lock dated in the future (the clock went back, e.g. a Pi without RTC after a power cut)');
    }
  } catch {
    // no lock (the usual case), or one lockSync will report on
  }
  let release: () => void;
  try {
    release = lockSync(dir, {
      lockfilePath: lockPath,
      stale: LOCK_STALE_MS,
      update: LOCK_UPDATE_MS,
      // called from the library's refresh timer: throwing there would kill the process
      onCompromised: (err) =>
        log?.error(
          { err: err.message, lock: lockPath },
          'outbox: lost the lock of this node (event loop stalled for longer than the stale time, or the lock was removed); another process may write the same journal',
        ),
    });
  } catch (err) {
    if (errCode(err) !== 'ELOCKED') throw ioError(`cannot lock ${dir}`, err);
    let age = '';
    try {
      age = `, last refreshed ${Math.max(0, Date.now() - fs.statSync(lockPath).mtimeMs).toFixed(0)} ms ago`;
    } catch {
      // released meanwhile
    }
    const held = new EdgeError(
      EdgeErrorCodes.OUTBOX_IO,
      `outbox: ${dir} is locked: another process (or another open outbox in this process) runs node ${who.store}/${who.node} ` +
        `(${lockPath}${age}; a lock left by a killed process goes stale ${LOCK_STALE_MS} ms after its last refresh)`,
      { cause: err },
    );
    lockHeldErrors.add(held);
    throw held;
  }
  if (leftOver) log?.warn({ lock: lockPath }, 'outbox: took over the stale lock of a process that died without releasing it');
  return release;
}

/**
 * Durable outbox of one node: an append-only JSONL journal `outbox.jsonl` in `dir` with
 * `{"add":event}`, `{"ack":id}` and `{"drop":id}` lines, next to `node.json` (whose folder
 * this is) and `node.lock` (held while open; a second open of the folder fails).
 *
 * Durability (fsync policy):
 * - `add` writes its line (after the drop lines of events it pushed out) and fsyncs before it
 *   returns: an event the node saw survives kill -9 and power loss;
 * - `ack` appends its line without fsync and returns: after a power cut an ack may be lost,
 *   which only means one duplicate send, dropped by the hub's de-duplication on (source, id);
 *   a kill -9 loses no written line (the kernel has it);
 * - compaction rewrites the journal as the pending events: write a tmp file, fsync it, rename
 *   it over the journal, fsync the folder; a crash at any point leaves the old or the new
 *   journal. It runs on open, and later off the PUBACK path (setImmediate) when acked and
 *   dropped events dominate the journal;
 * - `close` fsyncs the unsynced ack lines.
 *
 * On open the journal is replayed; a torn last line, garbage and events of another node
 * (`source` not /stores/{store}/nodes/{node}) are skipped and counted as bad lines.
 * Throws EdgeError OUTBOX_IO when the folder belongs to another node, is locked by another
 * process, or cannot be read or written.
 */
export function fileOutbox(dir: string, opts: FileOutboxOptions): FileOutbox {
  const who: Identity = { store: opts.store, node: opts.node };
  const source = sourceOf(who.store, who.node);
  const parsed = parseSource(source);
  if (!parsed || parsed.store !== who.store || parsed.node !== who.node) {
    throw new EdgeError(EdgeErrorCodes.USAGE, `outbox: ${JSON.stringify(who)} is not a valid store/node identity`);
  }
  const compactAtLines = opts.compactAtLines ?? 1000;
  const log = opts.log;
  const file = path.join(dir, JOURNAL);
  const b = bounded(opts, `outbox of ${who.store}/${who.node}`);
  const { events } = b;
  let journalLines = 0;
  let compactions = 0;
  let badLines = 0;
  let fd: number | null = null;
  let closed = false;
  let compactTask: NodeJS.Immediate | undefined;
  // after a failed compaction, wait for this many lines before trying again (a full disk)
  let nextCompactAt = compactAtLines;
  // the journal as found: its lines, and whether it ends inside one (a write torn by a power cut)
  let linesAtOpen = 0;
  let tornAtOpen = false;

  try {
    // a folder made here is synced into its parent, up to the first that was there: else a power
    // cut could take the new folder, and the events journalled in it, with it
    const made = fs.mkdirSync(dir, { recursive: true });
    if (made !== undefined) {
      for (let d = path.resolve(dir); d !== path.dirname(path.resolve(made)); d = path.dirname(d)) fsyncDir(path.dirname(d));
    }
  } catch (err) {
    throw ioError(`cannot create ${dir}`, err);
  }
  // checked before locking, so opening another node's folder names the node, not the lock
  checkIdentity(dir, readIdentity(dir), who);
  const release = takeLock(dir, who, log);

  const releaseLock = (): void => {
    try {
      release();
    } catch {
      // already released: compromised, or removed by hand
    }
  };

  try {
    // under the lock: the first open of a folder claims it
    const found = readIdentity(dir);
    checkIdentity(dir, found, who);
    if (!found) {
      try {
        writeAtomic(dir, path.join(dir, IDENTITY), JSON.stringify(who) + '\n');
      } catch (err) {
        throw ioError(`cannot write ${path.join(dir, IDENTITY)}`, err);
      }
    }
    try {
      fs.rmSync(path.join(dir, LEGACY_LOCK), { force: true });
    } catch {
      // harmless leftover
    }

    // replay
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      if (errCode(err) !== 'ENOENT') throw ioError(`cannot read ${file}`, err);
    }
    let foreign = 0;
    tornAtOpen = text.length > 0 && !text.endsWith('\n');
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      linesAtOpen++;
      let entry: JournalLine;
      try {
        entry = JSON.parse(line) as JournalLine;
      } catch {
        badLines++;
        continue;
      }
      if (typeof entry !== 'object' || entry === null) badLines++;
      else if ('add' in entry) {
        const ev = validateEvent(entry.add, { expect: who });
        if (ev.ok) {
          if (!events.has(ev.value.id)) events.set(ev.value.id, ev.value);
        } else {
          badLines++;
          if (ev.code === ErrorCodes.EVENT_SOURCE) foreign++;
        }
      } else if ('ack' in entry && typeof entry.ack === 'string') events.delete(entry.ack);
      else if ('drop' in entry && typeof entry.drop === 'string') events.delete(entry.drop);
      else badLines++;
    }
    if (badLines > 0) {
      log?.warn({ file, badLines, foreign }, 'outbox: skipped unreadable journal lines (torn write after a crash?) and events of other nodes');
    }
    b.trim(); // a journal written under a larger maxEvents
  } catch (err) {
    releaseLock();
    throw err;
  }

  const openAppend = (): number => {
    if (fd === null) fd = fs.openSync(file, 'a');
    return fd;
  };

  /** Rewrites the journal as the pending events only (crash-safe, see above). */
  const compact = (): void => {
    let body = '';
    for (const ev of events.values()) body += JSON.stringify({ add: ev }) + '\n';
    writeAtomic(dir, file, body);
    // the old fd points at the replaced file: later lines must go to the new one
    const old = fd;
    fd = null;
    if (old !== null) fs.closeSync(old);
    openAppend();
    journalLines = events.size;
    compactions++;
    nextCompactAt = compactAtLines;
  };

  const runCompaction = (): void => {
    compactTask = undefined;
    if (closed) return;
    try {
      compact();
    } catch (err) {
      // the journal is still whole (rename is atomic): keep appending to it, try again later
      nextCompactAt = journalLines + compactAtLines;
      log?.error({ err: errMessage(err), file }, 'outbox: compaction failed; the journal keeps growing until it succeeds');
    }
  };

  const scheduleCompaction = (): void => {
    if (compactTask !== undefined || closed) return;
    if (journalLines < nextCompactAt || events.size * 2 >= journalLines) return;
    // off the PUBACK path, and many acks in one turn cost one compaction
    compactTask = setImmediate(runCompaction);
    compactTask.unref();
  };

  // a line a failed append left half written that could not be cut off: the next append ends it first
  let tornTail = false;
  const append = (lines: string, count: number, sync: boolean): void => {
    if (closed) throw new EdgeError(EdgeErrorCodes.OUTBOX_IO, `outbox: ${file} is closed`);
    const buf = Buffer.from(tornTail ? `\n${lines}` : lines);
    let written = 0;
    let out: number | null = null;
    try {
      out = openAppend();
      // a full disk writes part of a buffer and returns the short count; the rest then fails
      while (written < buf.length) written += fs.writeSync(out, buf, written);
      if (sync) fs.fsyncSync(out);
    } catch (err) {
      // what was written of these lines comes off again, so the next ones do not glue onto half a line
      if (out !== null && written > 0) {
        try {
          fs.ftruncateSync(out, fs.fstatSync(out).size - written);
        } catch {
          tornTail = true;
        }
      }
      throw ioError(`cannot write ${file}`, err);
    }
    tornTail = false;
    journalLines += count;
  };

  try {
    compact(); // on open: drop acked events, dropped ones and any torn tail
  } catch (err) {
    // a full disk: start on the journal as it is rather than not at all, so the node still sends
    // what it holds and what it sees (from memory while appends fail, counted by the agent);
    // the next open, or a compaction once there is room, rewrites it
    journalLines = linesAtOpen;
    nextCompactAt = journalLines + compactAtLines;
    tornTail = tornAtOpen;
    log?.error({ err: errMessage(err), file, code: EdgeErrorCodes.OUTBOX_IO }, 'outbox: cannot compact the journal on open; appending to it as it is');
  }

  return {
    file,
    add(event) {
      if (event.source !== source) {
        throw new EdgeError(EdgeErrorCodes.OUTBOX_IO, `outbox of ${who.store}/${who.node}: refusing event ${event.id} from ${event.source}`);
      }
      if (events.has(event.id)) return;
      const pushedOut = b.makeRoom();
      // kept in memory first: if the disk fails the event still goes out while the process lives
      events.set(event.id, event);
      let lines = '';
      for (const id of pushedOut) lines += JSON.stringify({ drop: id }) + '\n';
      lines += JSON.stringify({ add: event }) + '\n';
      append(lines, pushedOut.length + 1, true);
      if (pushedOut.length > 0) scheduleCompaction(); // a full outbox with no acks grows the journal too
    },
    pending: () => events.values(),
    peek: () => events.values().next().value,
    ack(id) {
      if (!events.delete(id)) return false;
      if (closed) return true; // the next open re-sends it, the hub drops the duplicate
      append(JSON.stringify({ ack: id }) + '\n', 1, false);
      scheduleCompaction();
      return true;
    },
    size: () => events.size,
    dropped: b.dropped,
    stats: () => ({ pending: events.size, journalLines, compactions, badLines, dropped: b.dropped() }),
    close() {
      if (closed) return;
      closed = true;
      if (compactTask !== undefined) clearImmediate(compactTask);
      compactTask = undefined;
      b.close();
      try {
        if (fd !== null) {
          fs.fsyncSync(fd); // the unsynced ack lines
          fs.closeSync(fd);
        }
      } catch (err) {
        throw ioError(`cannot close ${file}`, err);
      } finally {
        fd = null;
        releaseLock();
      }
    },
  };
}

/**
 * fileOutbox, but while another process holds the folder's lock it retries, for up to
 * `waitMs` (default: long enough for the lock of a killed process to go stale, also one dated
 * up to LOCK_STALE_MS ahead after the clock went back, which takeLock leaves in place). For node
 * start-up: a node restarted right after kill -9 waits for its old lock instead of failing.
 * Other errors (another node's folder, I/O) reject at once.
 */
export async function openFileOutbox(dir: string, opts: FileOutboxOptions, waitMs = 2 * LOCK_STALE_MS + 2 * LOCK_UPDATE_MS): Promise<FileOutbox> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return fileOutbox(dir, opts);
    } catch (err) {
      if (!(err instanceof EdgeError) || !lockHeldErrors.has(err) || Date.now() >= deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
