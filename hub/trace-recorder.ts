import fs from 'node:fs';
import path from 'node:path';
import type { GwEvent } from '../contract/index.ts';

// CONTRACT.md "Replay": the hub records every accepted event, as on the wire, with
// the extension attribute `recvtime`, one JSON object a line, one file a UTC day.
// The line is written (write(2), synchronously) before the broker acknowledges the
// publish, so an acknowledged event survives a kill -9 of the hub; fsync runs every
// second to cover a power cut too.

export interface TraceRecorder {
  record(ev: GwEvent, recvMs: number): void;
  /** trace files of this store, oldest first */
  files(): string[];
  close(): void;
}

export function fileTraceRecorder(dir: string, store: string, opts: { fsyncMs?: number } = {}): TraceRecorder {
  fs.mkdirSync(dir, { recursive: true });
  let fd: number | null = null;
  let day = '';
  let dirty = false;
  const open = (d: string) => {
    if (fd !== null) fs.closeSync(fd);
    day = d;
    fd = fs.openSync(path.join(dir, `${store}-${d}.jsonl`), 'a');
  };
  const timer = setInterval(() => {
    if (dirty && fd !== null) {
      fs.fsyncSync(fd);
      dirty = false;
    }
  }, opts.fsyncMs ?? 1000);
  timer.unref();
  return {
    record(ev, recvMs) {
      const d = new Date(recvMs).toISOString().slice(0, 10);
      if (d !== day || fd === null) open(d);
      fs.writeSync(fd!, JSON.stringify({ ...ev, recvtime: new Date(recvMs).toISOString() }) + '\n');
      dirty = true;
    },
    files() {
      return fs
        .readdirSync(dir)
        .filter((f) => f.startsWith(`${store}-`) && f.endsWith('.jsonl'))
        .sort()
        .map((f) => path.join(dir, f));
    },
    close() {
      clearInterval(timer);
      if (fd !== null) {
        fs.fsyncSync(fd);
        fs.closeSync(fd);
        fd = null;
      }
    },
  };
}
