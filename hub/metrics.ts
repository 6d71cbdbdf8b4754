import type { ErrorCode } from '../contract/index.ts';

/** node ids kept apart in the reject counters; any further id counts under OTHER_NODES, so made-up ids cannot grow memory */
export const MAX_COUNTED_NODES = 256;
export const OTHER_NODES = '(other)';
const MAX_HTTP_REASONS = 64;
const OTHER_REASON = '(other)';

/** Counters of bad input, per node and reason (CONTRACT.md: rejected, counted per node and reason). */
export class Metrics {
  readonly rejected = new Map<string, Map<string, number>>();
  reject(node: string | null, code: ErrorCode): void {
    let key = node ?? '(unknown)';
    if (!this.rejected.has(key) && this.rejected.size >= MAX_COUNTED_NODES) key = OTHER_NODES;
    let m = this.rejected.get(key);
    if (!m) this.rejected.set(key, (m = new Map<string, number>()));
    m.set(code, (m.get(code) ?? 0) + 1);
  }
  /** refused MQTT connects by reason (no credentials, bad credentials, a node's client id taken) */
  readonly refusedConnects = new Map<string, number>();
  refuseConnect(reason: string): void {
    this.refusedConnects.set(reason, (this.refusedConnects.get(reason) ?? 0) + 1);
  }
  /** publishes the broker refused (a node writing outside its own topics, a read-only user publishing) */
  refusedPublishes = 0;
  refusePublish(): void {
    this.refusedPublishes++;
  }
  /** events whose trace write failed: not acknowledged, so their nodes send them again */
  traceFailures = 0;
  lastTraceError: string | null = null;
  traceFailed(err: Error): void {
    this.traceFailures++;
    this.lastTraceError = err.message;
  }
  /** SSE clients dropped because they stopped reading */
  slowStreamsDropped = 0;
  dropSlowStream(): void {
    this.slowStreamsDropped++;
  }
  /** HTTP requests refused before any route, by reason (the parser's or the router's code); a fixed set of codes, capped anyway */
  readonly refusedHttp = new Map<string, number>();
  refuseHttp(reason: string): void {
    const key = this.refusedHttp.has(reason) || this.refusedHttp.size < MAX_HTTP_REASONS ? reason : OTHER_REASON;
    this.refusedHttp.set(key, (this.refusedHttp.get(key) ?? 0) + 1);
  }
  /** SSE streams refused: too many open from one address or in all (hub/http/sse.ts) */
  streamsRefused = 0;
  refuseStream(): void {
    this.streamsRefused++;
  }
  /** POST /api/login refused: unknown user or wrong password */
  loginFailures = 0;
  loginFailed(): void {
    this.loginFailures++;
  }
  /** login attempts refused by the per-address rate limit (429) */
  loginsRateLimited = 0;
  loginRateLimited(): void {
    this.loginsRateLimited++;
  }
  rejectedFor(node: string): Record<string, number> {
    return Object.fromEntries(this.rejected.get(node) ?? []);
  }
}
