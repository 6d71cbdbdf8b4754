import http from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCodes } from '../../contract/index.ts';
import type { Metrics } from '../metrics.ts';

// What is refused before any route sees it answers in the API's error format (README "HTTP
// API": `{"error": "GW_ERR_…", "message": "<where>: <why>"}`) and is counted by reason;
// fastify's defaults answer "Client Error", or a code of its own.

/** a request must have come in whole by then (fastify's default is never: a client that sends its headers and holds its body back keeps a socket); Node checks every 30 s */
export const REQUEST_TIMEOUT_MS = 30_000;

type ParserError = Error & { code?: string; reason?: string };

/** the answer to a request Node's HTTP parser refused (a NUL in a header, a bad Content-Length, headers over the limit, too slow) */
function refusal(err: ParserError): { status: number; message: string } {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, message: `request: not received in full in time (the limit is ${REQUEST_TIMEOUT_MS / 1000} s)` };
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, message: `headers: the request line and headers are over ${http.maxHeaderSize} bytes` };
    default:
      return { status: 400, message: `request: not valid HTTP/1.1 (${err.reason ?? err.code ?? err.message})` };
  }
}

/** fastify's `clientErrorHandler`: `this` is the fastify instance (its logger) */
export function clientErrorHandler(metrics: Metrics, log: FastifyBaseLogger): (err: ParserError, socket: Socket) => void {
  return (err, socket) => {
    // a reset socket is gone: there is no one to answer
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    metrics.refuseHttp(err.code ?? 'unknown');
    log.debug({ code: err.code, reason: err.reason }, 'HTTP request refused by the parser');
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const { status, message } = refusal(err);
    answerRaw(socket, status, message);
  };
}

/** an API error written straight to a socket no request object holds, then the connection closed */
function answerRaw(socket: Socket, status: number, message: string): void {
  const body = JSON.stringify({ error: ErrorCodes.BAD_PARAM, message });
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/** the path as a message shows it: a 100 kB URL is not echoed whole */
const shown = (url: string) => JSON.stringify(url.length > 120 ? `${url.slice(0, 120)}…` : url);

/** fastify's `frameworkErrors`: what its router refuses (a bad %-escape, a path part over 100 characters) */
export function frameworkErrors(metrics: Metrics): (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => void {
  return (err, req, reply) => {
    metrics.refuseHttp(err.code);
    const path = req.raw.url?.split('?')[0] ?? '';
    const [status, message] =
      err.code === 'FST_ERR_BAD_URL'
        ? [400, `path: ${shown(path)} is not a valid URL (a bad %-escape)`]
        : err.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? [414, `path: a part of ${shown(path)} is longer than 100 characters`]
          : [400, `request: ${err.message}`];
    // a reply is a thenable, not a promise: send() has done the work, nothing rejects unawaited
    void reply.status(status).send({ error: ErrorCodes.BAD_PARAM, message });
  };
}

/** the server's `connect` listener: the hub is no proxy, and without a listener Node drops the socket without a word */
export function refuseConnectMethod(metrics: Metrics): (req: http.IncomingMessage, socket: Socket) => void {
  return (_req, socket) => {
    metrics.refuseHttp('CONNECT');
    socket.on('error', () => undefined); // a client gone meanwhile
    answerRaw(socket, 405, 'method: CONNECT is not served (the hub is no proxy)');
  };
}
