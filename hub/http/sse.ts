import type { ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCodes, GwError } from '../../contract/index.ts';
import type { Metrics } from '../metrics.ts';

// Server-Sent Events for the hub's streams (README "Live stream", "Floor view"): a set of open
// streams that each message is written to once serialised, slow readers dropped, idle streams
// pinged. The live stream (hub/plugins/http.ts) and the floor stream (floor-routes.ts) each
// hold one channel.

/**
 * Open streams across the hub's channels, per client address and in all. A stream costs the
 * hub about 20 kB while open, and the floor stream needs no login: without a bound, a client
 * opening thousands would grow the hub until it ran out of file handles (README "Security").
 */
export interface StreamSlots {
  /** a slot for a stream from `address`, or why there is none */
  take(address: string): string | null;
  release(address: string): void;
}

export function streamSlots(limits: { total: number; perAddress: number }): StreamSlots {
  // entries only while their streams are open: at most `total`
  const byAddress = new Map<string, number>();
  let open = 0;
  return {
    take(address) {
      if (open >= limits.total) return `stream: the hub has ${open} streams open, its limit; close a screen or try again later`;
      const n = byAddress.get(address) ?? 0;
      if (n >= limits.perAddress) return `stream: ${n} streams are open from ${address}, the most one address may have`;
      byAddress.set(address, n + 1);
      open++;
      return null;
    },
    release(address) {
      const n = byAddress.get(address);
      if (n === undefined) return;
      if (n <= 1) byAddress.delete(address);
      else byAddress.set(address, n - 1);
      open--;
    },
  };
}

export interface SseOptions {
  /** bytes a client may leave unread before it is dropped */
  maxBuffered: number;
  /** a stream that had nothing else for this long gets a `: ping` comment */
  pingMs: number;
  metrics: Pick<Metrics, 'dropSlowStream' | 'refuseStream'>;
  /** shared by every channel of the hub */
  slots: StreamSlots;
}

export interface SseChannel {
  /** open streams */
  readonly size: number;
  /** takes the request over as a stream and writes `first` to it (build `first` before: a failure then still answers 500); throws GW_ERR_RATE_LIMITED past the stream limits */
  open(req: FastifyRequest, reply: FastifyReply, first: string): void;
  /** one message, serialised once by the caller, to every stream */
  broadcast(text: string): void;
  /** ends every stream and stops pinging: the server would otherwise wait for them on close */
  close(): void;
}

/** one SSE message */
export const sseMessage = (event: string, data: unknown): string => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

interface Stream {
  res: ServerResponse;
  log: FastifyBaseLogger;
  /** Date.now() of the last write (for pings) */
  lastWrite: number;
}

export function sseChannel(opts: SseOptions): SseChannel {
  const streams = new Set<Stream>();
  /** every write to a stream goes through here; false when the stream is gone or was dropped */
  const write = (s: Stream, text: string): boolean => {
    if (s.res.destroyed || s.res.writableEnded) {
      streams.delete(s);
      return false;
    }
    // a screen that stops reading (a frozen tablet, a hostile client) is dropped once this
    // much waits for it, instead of growing the hub's memory without bound (README "Security")
    if (s.res.writableLength > opts.maxBuffered) {
      opts.metrics.dropSlowStream();
      s.log.warn({ buffered: s.res.writableLength }, 'SSE client stopped reading: dropped');
      streams.delete(s);
      s.res.destroy(); // end() would wait for the client to read what is queued
      return false;
    }
    s.res.write(text);
    s.lastWrite = Date.now();
    return true;
  };
  const ping = setInterval(() => {
    const idleSince = Date.now() - opts.pingMs;
    for (const s of [...streams]) if (s.lastWrite <= idleSince) write(s, ': ping\n\n');
  }, opts.pingMs);
  return {
    get size() {
      return streams.size;
    },
    open(req, reply, first) {
      const address = req.ip;
      const refused = opts.slots.take(address);
      if (refused) {
        opts.metrics.refuseStream();
        throw new GwError(ErrorCodes.RATE_LIMITED, refused);
      }
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      const s: Stream = { res, log: req.log, lastWrite: 0 };
      res.on('error', (err) => req.log.debug({ err: err.message }, 'SSE client went away'));
      res.once('close', () => {
        streams.delete(s);
        opts.slots.release(address);
      });
      streams.add(s);
      write(s, first);
    },
    broadcast(text) {
      for (const s of [...streams]) write(s, text);
    },
    close() {
      clearInterval(ping);
      for (const s of [...streams]) {
        streams.delete(s);
        s.res.end();
      }
    },
  };
}
