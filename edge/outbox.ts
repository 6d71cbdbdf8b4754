import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger } from 'pino';
import { validateEvent, type GwEvent } from '../contract/index.ts';
import { EdgeError, EdgeErrorCodes } from './errors.ts';

// Events wait here until the broker acknowledges them (QoS 1 PUBACK), so a broker outage
// or a kill -9 of the node loses nothing it saw (CONTRACT.md "reorderS": nodes buffer;
// the hub drops duplicates by (source, id), so sending one twice is harmless).

export interface Outbox {
  /** keeps the event until ack(id); a second add of the same id is ignored */
  add(event: GwEvent): void;
  /** pending events in the order they were added (safe to ack while iterating) */
  pending(): IterableIterator<GwEvent>;
  /** the oldest pending event */
  peek(): GwEvent | undefined;
  /** forgets a published event; false if it was not pending */
  ack(id: string): boolean;
  size(): number;
  close(): void;
}

export function memoryOutbox(): Outbox {
  const events = new Map<string, GwEvent>();
  return {
    add(event) {
      if (!events.has(event.id)) events.set(event.id, event);
    },
    pending: () => events.values(),
    peek: () => events.values().next().value,
    ack: (id) => events.delete(id),
    size: () => events.size,
    close() {},
  };
}

// ---------------------------------------------------------------- file-backed

export interface FileOutboxOptions {
  /** compact when the journal has at least this many lines and pending events are under half of them */
  compactAtLines?: number;
  log?: Logger;
}

export interface FileOutboxStats {
  pending: number;
  journalLines: number;
  compactions: number;
  /** lines skipped at open: a torn last line after a crash, or garbage */
  badLines: number;
}

export interface FileOutbox extends Outbox {
  readonly file: string;
  stats(): FileOutboxStats;
}

const JOURNAL = 'outbox.jsonl';
const LOCK = 'outbox.lock';

type JournalLine = { add: unknown } | { ack: unknown };

function ioError(what: string, err: unknown): EdgeError {
  return new EdgeError(EdgeErrorCodes.OUTBOX_IO, `outbox: ${what}: ${(err as Error).message}`, { cause: err });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** One writer per journal: a second live process on the same data dir would interleave lines. */
function takeLock(dir: string): string {
  const lock = path.join(dir, LOCK);
  try {
    const holder = Number.parseInt(fs.readFileSync(lock, 'utf8'), 10);
    if (Number.isInteger(holder) && holder !== process.pid && pidAlive(holder)) {
      throw new EdgeError(EdgeErrorCodes.OUTBOX_IO, `outbox: ${dir} is in use by process ${holder} (${lock})`);
    }
  } catch (err) {
    if (err instanceof EdgeError) throw err;
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(`cannot read ${lock}`, err);
  }
  try {
    fs.writeFileSync(lock, String(process.pid));
  } catch (err) {
    throw ioError(`cannot write ${lock}`, err);
  }
  return lock;
}

/**
 * Durable outbox: an append-only JSONL journal `outbox.jsonl` in `dir` with `{"add":event}`
 * and `{"ack":id}` lines. `add` is fsynced before it returns (an event the node saw survives
 * kill -9 or power loss); `ack` is not (a lost ack only means one duplicate send). On open the
 * journal is replayed, a torn last line is skipped, and the file is compacted to the pending
 * events; it is compacted again whenever acks dominate.
 */
export function fileOutbox(dir: string, opts: FileOutboxOptions = {}): FileOutbox {
  const compactAtLines = opts.compactAtLines ?? 1000;
  const log = opts.log;
  const file = path.join(dir, JOURNAL);
  const events = new Map<string, GwEvent>();
  let journalLines = 0;
  let compactions = 0;
  let badLines = 0;
  let fd: number | null = null;

  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw ioError(`cannot create ${dir}`, err);
  }
  const lock = takeLock(dir);

  // replay
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(`cannot read ${file}`, err);
  }
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let parsed: JournalLine;
    try {
      parsed = JSON.parse(line) as JournalLine;
    } catch {
      badLines++;
      continue;
    }
    if ('add' in parsed) {
      const ev = validateEvent(parsed.add);
      if (ev.ok) {
        if (!events.has(ev.value.id)) events.set(ev.value.id, ev.value);
      } else badLines++;
    } else if ('ack' in parsed && typeof parsed.ack === 'string') {
      events.delete(parsed.ack);
    } else badLines++;
  }
  if (badLines > 0) log?.warn({ file, badLines }, 'outbox: skipped unreadable journal lines (torn write after a crash?)');

  const fsyncDir = (): void => {
    let dfd: number | null = null;
    try {
      dfd = fs.openSync(dir, 'r');
      fs.fsyncSync(dfd);
    } catch {
      // some filesystems do not allow fsync on a directory; the rename is still atomic
    } finally {
      if (dfd !== null) fs.closeSync(dfd);
    }
  };

  /** Rewrites the journal as the pending events only: write tmp, fsync, rename over, fsync dir. */
  const compact = (): void => {
    const tmp = `${file}.tmp`;
    try {
      let body = '';
      for (const ev of events.values()) body += JSON.stringify({ add: ev }) + '\n';
      const tfd = fs.openSync(tmp, 'w');
      try {
        fs.writeFileSync(tfd, body);
        fs.fsyncSync(tfd);
      } finally {
        fs.closeSync(tfd);
      }
      if (fd !== null) fs.closeSync(fd);
      fd = null;
      fs.renameSync(tmp, file);
      fsyncDir();
      fd = fs.openSync(file, 'a');
    } catch (err) {
      throw ioError(`cannot compact ${file}`, err);
    }
    journalLines = events.size;
    compactions++;
  };

  const append = (line: string, sync: boolean): void => {
    if (fd === null) throw new EdgeError(EdgeErrorCodes.OUTBOX_IO, `outbox: ${file} is closed`);
    try {
      fs.writeSync(fd, line);
      if (sync) fs.fsyncSync(fd);
    } catch (err) {
      throw ioError(`cannot write ${file}`, err);
    }
    journalLines++;
  };

  compact(); // on open: drop acked events and any torn tail

  return {
    file,
    add(event) {
      if (events.has(event.id)) return;
      // kept in memory first: if the disk fails the event still goes out while the process lives
      events.set(event.id, event);
      append(JSON.stringify({ add: event }) + '\n', true);
    },
    pending: () => events.values(),
    peek: () => events.values().next().value,
    ack(id) {
      if (!events.delete(id)) return false;
      if (fd === null) return true; // closed: the next open re-sends it, the hub drops the duplicate
      append(JSON.stringify({ ack: id }) + '\n', false);
      if (journalLines >= compactAtLines && events.size * 2 < journalLines) compact();
      return true;
    },
    size: () => events.size,
    stats: () => ({ pending: events.size, journalLines, compactions, badLines }),
    close() {
      if (fd === null) return;
      try {
        fs.fsyncSync(fd); // the unsynced ack lines
        fs.closeSync(fd);
      } finally {
        fd = null;
        try {
          if (fs.readFileSync(lock, 'utf8') === String(process.pid)) fs.unlinkSync(lock);
        } catch {
          // lock already gone
        }
      }
    },
  };
}
