import { parentPort } from 'node:worker_threads';
import type { StoreConfig } from '../firmware-config/schema.ts';
import { replayTrace, type ReplayResult } from './engine/replay.ts';

// One store's what-if replay on a worker thread (hub/replay-what-if.ts runs the pool).
// It calls the very replayTrace a single-file `greetwatch replay` calls, on the store's lines
// in the order the main thread merged them, so its figures are that replay's, byte for byte.

export interface ReplayTask {
  store: string;
  /** the store file with the --rules overrides applied (checked in the main thread) */
  cfg: StoreConfig;
  period: { fromMs?: number; toMs?: number };
  /** the store's trace lines, UTF-8, joined by '\n' (transferred, not copied) */
  text: ArrayBuffer;
}

export type ReplayReply = { ok: true; store: string; result: ReplayResult; ms: number } | { ok: false; store: string; error: string };

const port = parentPort;
if (!port) throw new Error('hub/replay-worker.ts runs on a worker thread (hub/replay-what-if.ts starts it)');

port.on('message', (msg: unknown) => {
  // only the pool in replay-what-if.ts posts here, always a ReplayTask
  const task = msg as ReplayTask;
  let reply: ReplayReply;
  try {
    const t0 = performance.now();
    const lines = Buffer.from(task.text).toString('utf8').split('\n');
    const result = replayTrace(lines, task.cfg, task.period);
    reply = { ok: true, store: task.store, result, ms: performance.now() - t0 };
  } catch (err) {
    reply = { ok: false, store: task.store, error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
  }
  port.postMessage(reply);
});
