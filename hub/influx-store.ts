import { InfluxDB, escape, type IPoint, type IPoolOptions } from 'influx';
// the client's own HTTP pool, for writing lines already encoded (history/line-protocol.ts)
import { Pool } from 'influx/lib/src/pool.js';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { pino, type Logger } from 'pino';
import { ErrorCodes, GwError, Visit, isId } from '../contract/index.ts';
import type { TimeZone } from './engine/tz.ts';
import { storeTimeZone } from './engine/store-zone.ts';
import { decodeHist, hourStart, rollupVisits, type HourRollup, type StaffHourRollup } from './history/rollup.ts';
import {
  M,
  RP_META,
  RP_RAW,
  RP_ROLLUP,
  SCHEMA,
  durationMs,
  eventPoint,
  greetingPoint,
  healthPoint,
  hourlyPoint,
  orphanPoint,
  staffHourlyPoint,
  storeInfoPoint,
  visitPoint,
  type StoreInfo,
} from './history/schema.ts';
import { isLegacyLine, lineEncoder, visitLineKey } from './history/line-protocol.ts';
import { openSpool, type Spool, type SpoolFs } from './history/spool.ts';
import type { HistoryHealth, HistoryRecord, PeriodRollups, VisitStore } from './visit-store.ts';

// A store's history in InfluxDB 1.x (README "History"; layout in history/schema.ts).
// Each point is checked against the schema and encoded as a line-protocol line once, when it
// is recorded; the lines go through an on-disk spool before InfluxDB sees them: batched in memory for at
// most `flushMs` or `batchPoints`, appended durably, then written in batches and acked
// off the spool only once InfluxDB has them and the hourly rollups they touch have been
// recomputed from the raw points. An outage or a restart only lengthens the spool; it
// drains in order when InfluxDB answers again. Writes never reject.

export interface InfluxStoreOptions {
  /** http(s)://[user:pass@]host[:port][/path]; credentials in the URL are used, never logged */
  url: string;
  database: string;
  /** folder of the on-disk spool (README "History": points wait here while InfluxDB is down) */
  spoolDir: string;
  /** bound on the spool; past it the oldest points are dropped (counted, logged). Default 256 MiB. */
  spoolMaxBytes?: number;
  log?: Logger;
  /** the store's zone: rollup buckets are store-local hours (default UTC) */
  timeZone?: string;
  /** retention of raw points and of rollups, InfluxDB durations (default 90d, 1826d) */
  retention?: { raw: string; rollups: string };
  /** written at start: what the chain view reads of this store */
  storeInfo?: StoreInfo;
  /** flush the memory batch at this many points ... */
  batchPoints?: number;
  /** ... or this long after its first point (default 1000 ms) */
  flushMs?: number;
  /** first retry delay after a failed write; doubles per failure up to 32x (at most 30 s). Default 1000. */
  retryMs?: number;
  /** HTTP timeout per request; default 10 s */
  requestTimeoutMs?: number;
  /** close() waits this long at most for a final drain; what is left stays in the spool. Default 5 s */
  closeTimeoutMs?: number;
  /** points held in memory while the spool cannot take them (disk full); oldest dropped past it. Default 100 000 */
  maxMemoryPoints?: number;
  /** the spool's file operations (default node:fs); tests give it a disk that fills up */
  spoolFs?: SpoolFs;
}

export interface InfluxStoreStats {
  /** points acknowledged by InfluxDB */
  written: number;
  /** InfluxDB requests (writes, rollup queries, setup) that failed and will be retried */
  failures: number;
  /** points given up on: invalid, refused by InfluxDB as unwritable, or over a bound */
  dropped: number;
  /** points waiting: in memory and in the spool */
  backlog: number;
  /** raw write requests sent (each holds up to batchPoints points) */
  rawRequests: number;
  /** rollup write requests (one per cluster of recomputed hours) */
  rollupRequests: number;
  /** rollup hours recomputed */
  rollupHours: number;
}

export interface InfluxVisitStore extends VisitStore {
  stats(): InfluxStoreStats;
  /** writes out what is batched and waits for one drain attempt (tests, shutdown) */
  flush(): Promise<void>;
}

/** InfluxDB 1.x accepts times within ±(2^63 − 2) ns; query bounds are clamped to that (in ms). */
const MAX_MS = 9_223_372_036_853;
const NS_PER_MS = 1_000_000n;
/** dirty rollup hours further apart than this are recomputed with separate queries */
const CLUSTER_GAP_MS = 72 * 3_600_000; // a closed night or weekend stays in one query

/** RFC 3339 time as InfluxDB returns it (up to 9 fraction digits, zeros trimmed) → ISO with ms. */
function rfc3339ToIsoMs(t: string): string | null {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(t);
  if (!m) return null;
  // string surgery, not Date: the sub-ms part is our hash and must be truncated, not rounded
  return `${m[1]}.${(m[2] ?? '').padEnd(3, '0').slice(0, 3)}Z`;
}

/** HTTP status of a node-influx RequestError (it carries the response as `res`). */
function httpStatus(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null || !('res' in err)) return undefined;
  const res = (err as { res?: { statusCode?: unknown } }).res;
  return typeof res?.statusCode === 'number' ? res.statusCode : undefined;
}

const errMsg = (err: unknown): string => (err instanceof Error ? err.message || err.name : String(err));

function parseUrl(raw: string): { host: string; port: number; protocol: 'http' | 'https'; path: string; username?: string; password?: string; safe: string } {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new GwError(ErrorCodes.CONFIG_INVALID, `hub.influx.url: not a URL: ${JSON.stringify(raw)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new GwError(ErrorCodes.CONFIG_INVALID, `hub.influx.url: expected http:// or https://, got ${u.protocol}`);
  }
  const protocol = u.protocol === 'https:' ? 'https' : 'http';
  const port = u.port ? Number(u.port) : protocol === 'https' ? 443 : 80;
  const path = u.pathname === '/' ? '' : u.pathname.replace(/\/$/, '');
  const out = {
    // an IPv6 literal keeps its brackets: the client parses `protocol://host:port/path` with url.parse
    host: u.hostname,
    port,
    protocol,
    path,
    safe: `${u.protocol}//${u.host}${path}`,
  } as const;
  return {
    ...out,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
  };
}

/** InfluxDB's duration text ("2160h0m0s", "0s" = infinite) in ms */
function influxDurationMs(d: string): number {
  if (d === '0s' || d === '0') return Infinity;
  let ms = 0;
  for (const [, n, u] of d.matchAll(/(\d+)(h|m|s)/g)) ms += Number(n) * { h: 3_600_000, m: 60_000, s: 1000 }[u as 'h' | 'm' | 's'];
  return ms;
}

type Rows = Array<Record<string, unknown>>;

interface Waiter {
  resolve: () => void;
}

class InfluxStore implements InfluxVisitStore {
  readonly persistent = true;
  readonly detail: string;
  readonly #influx: InfluxDB;
  readonly #toLine: (point: IPoint) => string;
  /** raw writes: the lines go as they are in the spool */
  readonly #pool: Pool;
  readonly #auth: string | undefined;
  readonly #db: string;
  readonly #log: Logger;
  readonly #spool: Spool;
  readonly #tz: TimeZone;
  readonly #retention: { raw: string; rollups: string };
  readonly #storeInfo: StoreInfo | undefined;
  readonly #retryMs: number;
  readonly #maxRetryMs: number;
  readonly #closeTimeoutMs: number;
  readonly #batchPoints: number;
  readonly #flushMs: number;
  readonly #maxMemory: number;
  readonly #check = TypeCompiler.Compile(Visit);

  /** points not yet in the spool, in write order, as line-protocol lines */
  #batch: string[] = [];
  #flushTimer: NodeJS.Timeout | null = null;
  /** writers waiting for the batch they added to reach the spool and one drain attempt */
  #waiting: Waiter[] = [];
  #flushing: Promise<void> | null = null;
  /** the last spool append failed (disk full): the memory batch is then bounded */
  #spoolFailing = false;
  /** points taken from the batch for the append in progress */
  #appending = 0;
  #spoolError: string | undefined;
  /** a flush() came while a flush was running: run another when it ends */
  #owed = false;
  #draining: Promise<boolean> | null = null;
  #retryTimer: NodeJS.Timeout | null = null;
  /** consecutive failures (backoff exponent); 0 = healthy */
  #attempt = 0;
  #lastError: string | undefined;
  #dbReady = false;
  #dbSetup: Promise<void> | null = null;
  #closed: Promise<void> | null = null;
  #stats = { written: 0, failures: 0, dropped: 0, rawRequests: 0, rollupRequests: 0, rollupHours: 0 };

  constructor(opts: InfluxStoreOptions, spool: Spool) {
    const u = parseUrl(opts.url);
    this.#db = opts.database;
    this.#spool = spool;
    this.#log = (opts.log ?? pino()).child({ name: 'hub:influx-store' });
    this.#tz = storeTimeZone(opts.timeZone ?? 'UTC');
    this.#retention = opts.retention ?? { raw: '90d', rollups: '1826d' };
    this.#storeInfo = opts.storeInfo;
    this.#retryMs = Math.max(1, opts.retryMs ?? 1000);
    this.#maxRetryMs = Math.max(this.#retryMs, Math.min(this.#retryMs * 32, 30_000));
    this.#closeTimeoutMs = opts.closeTimeoutMs ?? 5000;
    this.#batchPoints = Math.max(1, opts.batchPoints ?? 5000);
    this.#flushMs = Math.max(0, opts.flushMs ?? 1000);
    this.#maxMemory = Math.max(1, opts.maxMemoryPoints ?? 100_000);
    this.detail = `history in InfluxDB ${u.safe} db ${opts.database}`;
    // Our own spool does the retrying and backoff: the pool must not disable the host for
    // its own (up to 10 s) backoff, or a drain after the server is back would be delayed.
    const noBackoff: NonNullable<IPoolOptions['backoff']> = { getDelay: () => 0, next: () => noBackoff, reset: () => noBackoff };
    const pool: IPoolOptions = { maxRetries: 0, requestTimeout: opts.requestTimeoutMs ?? 10_000, backoff: noBackoff };
    this.#influx = new InfluxDB({
      host: u.host,
      port: u.port,
      protocol: u.protocol,
      path: u.path,
      ...(u.username !== undefined ? { username: u.username } : {}),
      ...(u.password !== undefined ? { password: u.password } : {}),
      database: opts.database,
      pool,
      schema: SCHEMA,
    });
    this.#toLine = lineEncoder(this.#influx, SCHEMA);
    // the host as InfluxDB's constructor adds it to its own pool
    this.#pool = new Pool(pool);
    this.#pool.addHost(`${u.protocol}://${u.host}:${u.port}${u.path}`);
    this.#auth = u.username !== undefined ? `${u.username}:${u.password ?? ''}` : undefined;
  }

  backlog(): number {
    // points on their way from the memory batch to the spool count too: they are in neither meanwhile
    return this.#batch.length + this.#appending + this.#spool.stats().points;
  }

  health(): HistoryHealth {
    const h: HistoryHealth = { state: this.#attempt > 0 ? 'down' : 'up', spool: this.backlog() };
    if (this.#attempt > 0 && this.#lastError !== undefined) h.lastError = this.#lastError;
    else if (this.#spoolError !== undefined) h.lastError = this.#spoolError;
    return h;
  }

  stats(): InfluxStoreStats {
    return { ...this.#stats, dropped: this.#stats.dropped + this.#spool.stats().dropped, backlog: this.backlog() };
  }

  /** Resolves once the visits are in InfluxDB, or in the spool for retry when it is unreachable. */
  write(visits: readonly Visit[]): Promise<void> {
    const lines: string[] = [];
    for (const v of visits) {
      const line = this.#prepare(v);
      if (line === null) continue;
      lines.push(line);
      const g = greetingPoint(v);
      const gl = g && this.#encode(g, 'greeting', v.party);
      if (gl) lines.push(gl);
    }
    return this.#add(lines);
  }

  record(items: readonly HistoryRecord[]): Promise<void> {
    const lines: string[] = [];
    for (const r of items) {
      let p: IPoint | null;
      switch (r.kind) {
        case 'orphan':
          p = orphanPoint(r.store, r.t, r.staff);
          break;
        case 'event':
          p = eventPoint(r.store, r.event, r.recvMs);
          break;
        case 'health':
          p = healthPoint(r.store, r.health, r.t);
          break;
      }
      const line = p && this.#encode(p, r.kind);
      if (line) lines.push(line);
    }
    return this.#add(lines);
  }

  flush(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#waiting.push({ resolve });
      if (this.#flushing) this.#owed = true;
      else this.#flushNow();
    });
  }

  #add(lines: string[]): Promise<void> {
    if (this.#closed) {
      if (lines.length) {
        this.#stats.dropped += lines.length;
        this.#log.error({ code: ErrorCodes.STORE_IO, points: lines.length }, 'write after close: points not stored');
      }
      return Promise.resolve();
    }
    if (lines.length === 0) return Promise.resolve();
    for (const l of lines) this.#batch.push(l);
    this.#boundMemory();
    return new Promise<void>((resolve) => {
      this.#waiting.push({ resolve });
      // while a flush runs, these wait for the next one (its timer is set when it ends)
      if (this.#flushing) return;
      if (this.#batch.length >= this.#batchPoints) this.#flushNow();
      else this.#flushTimer ??= setTimeout(() => this.#flushNow(), this.#flushMs);
    });
  }

  /** only while the spool refuses appends: otherwise a large write simply goes to the spool in slices */
  #boundMemory(): void {
    if (!this.#spoolFailing || this.#batch.length <= this.#maxMemory) return;
    const over = this.#batch.length - this.#maxMemory;
    this.#batch.splice(0, over);
    this.#stats.dropped += over;
    this.#log.error({ code: ErrorCodes.STORE_IO, dropped: over, maxMemoryPoints: this.#maxMemory }, 'history spool unwritable and memory batch full: oldest points dropped');
  }

  /** a visit that can never be written is dropped here, not spooled forever */
  #prepare(v: Visit): string | null {
    let why: string | null = null;
    if (!this.#check.Check(v)) {
      const e = this.#check.Errors(v).First();
      why = e ? `${e.path || 'visit'}: ${e.message}` : 'not a Visit';
    } else if (!Number.isFinite(Date.parse(v.entryTime))) {
      why = `entryTime: not a date: ${v.entryTime}`;
    }
    if (why === null) return this.#encode(visitPoint(v), 'visit', v.party);
    this.#stats.dropped += 1;
    const party = typeof (v as { party?: unknown }).party === 'string' ? v.party : undefined;
    this.#log.error({ code: ErrorCodes.STORE_IO, party, reason: why }, 'invalid visit not stored');
    return null;
  }

  /** the point's line; schema coercion throws here, not mid-batch */
  #encode(point: IPoint, kind: string, party?: string): string | null {
    try {
      return this.#toLine(point);
    } catch (err) {
      this.#stats.dropped += 1;
      this.#log.error({ code: ErrorCodes.STORE_IO, kind, party, reason: errMsg(err) }, 'invalid history point not stored');
      return null;
    }
  }

  /** moves the memory batch to the spool, then drains; never rejects */
  #flushNow(): void {
    if (this.#flushTimer) {
      clearTimeout(this.#flushTimer);
      this.#flushTimer = null;
    }
    this.#flushing ??= this.#toSpool().finally(() => {
      this.#flushing = null;
      if (this.#closed) return;
      // a flush() that came while appending is owed its own pass; points that came wait for the next flush
      if (this.#owed) {
        this.#owed = false;
        this.#flushNow();
      } else if (this.#batch.length > 0) this.#flushTimer ??= setTimeout(() => this.#flushNow(), this.#flushMs);
    });
  }

  async #toSpool(): Promise<void> {
    const waiters = this.#waiting.splice(0);
    while (this.#batch.length > 0) {
      const points = this.#batch.splice(0, this.#batchPoints);
      this.#appending = points.length;
      try {
        await this.#spool.append(points);
        this.#spoolFailing = false;
        this.#spoolTrouble(null);
      } catch (err) {
        // disk full or failing: keep the points in memory (bounded); the flush timer tries again.
        // Not an InfluxDB failure: its backoff would hold back the drain, and the drain is what
        // frees the disk (what the spool holds still goes to InfluxDB meanwhile)
        this.#spoolFailing = true;
        this.#spoolTrouble(err, 'history spool append failed; points kept in memory');
        this.#batch.unshift(...points);
        this.#boundMemory();
        break;
      } finally {
        this.#appending = 0;
      }
    }
    if (this.#retryTimer === null) await this.#kick();
    for (const w of waiters) w.resolve();
  }

  async #kick(): Promise<void> {
    // Loop: a record that lands just as a drain finishes would otherwise be left unscheduled.
    while (this.#spool.stats().records > 0 && this.#retryTimer === null) {
      this.#draining ??= this.#drain().finally(() => {
        this.#draining = null;
      });
      if (!(await this.#draining)) return; // failed: the retry timer (unless closing) takes over
    }
  }

  /** Writes the spool head in batches until empty (true) or a failure (false). Never rejects. */
  async #drain(): Promise<boolean> {
    for (;;) {
      const records = this.#spool.peek(this.#batchPoints);
      const last = records.at(-1);
      if (!last) return true;
      const points: string[] = [];
      for (const r of records) {
        for (const line of r.lines) {
          const l = isLegacyLine(line) ? this.#fromLegacy(line, r.id) : line;
          if (l !== null) points.push(l);
        }
      }
      // counted once the batch is through: a batch retried after a failure finds them again
      const refused: Array<{ line: string; err: string }> = [];
      try {
        await this.#ensureDb();
        await this.#writeRaw(points, refused);
        await this.#rollup(points);
      } catch (err) {
        if (httpStatus(err) === 404) this.#dbReady = false; // database dropped under us: recreate it
        this.#fail(err, 'InfluxDB write failed; points kept in the spool and retried');
        return false;
      }
      for (const { line, err } of refused) {
        this.#stats.dropped += 1;
        this.#log.error(
          { code: ErrorCodes.STORE_IO, measurement: line.slice(0, Math.max(0, line.search(/[ ,]/))), party: /[ ,]party="([^"\\]*)"/.exec(line)?.[1], err },
          'InfluxDB refused a point; not stored',
        );
      }
      // InfluxDB has them: written, and reachable again, whatever the ack below costs
      this.#stats.written += points.length - refused.length;
      if (this.#attempt > 0) {
        this.#log.info({ afterFailures: this.#attempt, backlog: this.backlog() }, 'InfluxDB reachable again; draining the spool');
        this.#attempt = 0;
        this.#lastError = undefined;
      }
      try {
        await this.#spool.ack(last.id);
        this.#spoolTrouble(null);
      } catch (err) {
        // only the spool's cursor could not be saved (a full disk): the records are out of the
        // spool's memory all the same, and after a restart on the old cursor they are written again
        // and overwrite (README "History"). Not an InfluxDB failure: the drain goes on
        this.#spoolTrouble(err, 'history spool cannot save its ack cursor; what InfluxDB has may be written again after a restart');
      }
    }
  }

  /** a point an older version spooled as JSON, as its line */
  #fromLegacy(line: string, record: number): string | null {
    try {
      return this.#toLine(JSON.parse(line) as IPoint);
    } catch {
      // the spool checks its records and the point was checked when spooled: a bug, said once per point
      this.#stats.dropped += 1;
      this.#log.error({ code: ErrorCodes.STORE_IO, record }, 'unreadable spooled point dropped');
      return null;
    }
  }

  /** one request for the batch; when InfluxDB refuses some points (400), they are found one by one and put in `refused` */
  async #writeRaw(lines: string[], refused: Array<{ line: string; err: string }>): Promise<void> {
    if (lines.length === 0) return;
    try {
      this.#stats.rawRequests++;
      await this.#pool.discard({
        method: 'POST',
        path: '/write',
        query: { db: this.#db, precision: 'n', rp: RP_RAW },
        body: lines.join('\n'),
        ...(this.#auth !== undefined ? { auth: this.#auth } : {}),
      });
      return;
    } catch (err) {
      if (httpStatus(err) !== 400) throw err;
      if (lines.length === 1) {
        refused.push({ line: lines[0]!, err: errMsg(err) });
        return;
      }
    }
    // InfluxDB stored the valid points of a partial write: writing them again is harmless
    for (const l of lines) await this.#writeRaw([l], refused);
  }

  /** Recomputes, from the raw points, every hourly rollup the written visits fall in (late ones included). */
  async #rollup(lines: readonly string[]): Promise<void> {
    const dirty = new Map<string, Set<number>>();
    for (const line of lines) {
      const key = visitLineKey(line);
      if (!key) continue;
      const { store, ms } = key;
      let s = dirty.get(store);
      if (!s) dirty.set(store, (s = new Set()));
      s.add(hourStart(ms, this.#tz));
    }
    for (const [store, hours] of dirty) {
      const sorted = [...hours].sort((a, b) => a - b);
      let i = 0;
      while (i < sorted.length) {
        let j = i;
        while (j + 1 < sorted.length && sorted[j + 1]! - sorted[j]! <= CLUSTER_GAP_MS) j++;
        const from = sorted[i]!;
        const to = sorted[j]! + 2 * 3_600_000; // past the last dirty hour whatever its length (DST)
        const want = new Set(sorted.slice(i, j + 1));
        const visits = await this.#queryRaw(store, from, to);
        const r = rollupVisits(visits, this.#tz);
        const out: IPoint[] = [];
        for (const h of r.hours) if (want.has(h.startMs)) out.push(hourlyPoint(store, h));
        for (const s of r.staff) if (want.has(s.startMs)) out.push(staffHourlyPoint(store, s));
        if (out.length) {
          this.#stats.rollupRequests++;
          await this.#influx.writePoints(out, { precision: 'n', retentionPolicy: RP_ROLLUP });
        }
        this.#stats.rollupHours += want.size;
        i = j + 1;
      }
    }
  }

  /** the spool's own I/O (a full disk): logged once per episode and shown in health(), never InfluxDB's backoff */
  #spoolTrouble(err: unknown, what?: string): void {
    if (err === null) {
      this.#spoolError = undefined;
      return;
    }
    if (this.#spoolError === undefined) this.#log.error({ code: ErrorCodes.STORE_IO, err: errMsg(err), backlog: this.backlog() }, what);
    this.#spoolError = errMsg(err);
  }

  #fail(err: unknown, what: string): void {
    this.#attempt += 1;
    this.#stats.failures += 1;
    this.#lastError = errMsg(err);
    const fields = { code: ErrorCodes.STORE_IO, err: this.#lastError, backlog: this.backlog(), attempt: this.#attempt };
    if (this.#closed) {
      this.#log.error(fields, `${what} (closing: the spool keeps them for the next start)`);
      return;
    }
    const delay = Math.min(this.#retryMs * 2 ** Math.min(this.#attempt - 1, 30), this.#maxRetryMs);
    // first failure of an outage is an error; the repeats are warnings (one per backoff step)
    if (this.#attempt === 1) this.#log.error({ ...fields, retryInMs: delay }, what);
    else this.#log.warn({ ...fields, retryInMs: delay }, 'InfluxDB still failing');
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      if (this.#batch.length > 0) this.#flushNow();
      else this.#kick().catch((e: unknown) => this.#log.error({ code: ErrorCodes.STORE_IO, err: errMsg(e) }, 'history retry crashed'));
    }, delay);
    this.#retryTimer.unref(); // pending history must not keep the process alive; close() flushes
  }

  /** Creates the database, its retention policies and this store's info point, idempotently. */
  #ensureDb(): Promise<void> {
    if (this.#dbReady) return Promise.resolve();
    this.#dbSetup ??= (async () => {
      try {
        const names = await this.#influx.getDatabaseNames();
        if (!names.includes(this.#db)) {
          await this.#influx.createDatabase(this.#db);
          this.#log.info({ database: this.#db }, 'created InfluxDB database');
        }
        const rps = await this.#influx.showRetentionPolicies(this.#db);
        const want: Array<[string, string, boolean]> = [
          [RP_RAW, this.#retention.raw, true],
          [RP_ROLLUP, this.#retention.rollups, false],
          [RP_META, 'INF', false],
        ];
        for (const [name, duration, isDefault] of want) {
          const have = rps.find((rp) => rp.name === name);
          const opts = { database: this.#db, duration, replication: 1, isDefault };
          if (!have) {
            await this.#influx.createRetentionPolicy(name, opts);
            this.#log.info({ database: this.#db, policy: name, duration }, 'created retention policy');
          } else if (influxDurationMs(have.duration) !== durationMs(duration) || have.default !== isDefault) {
            await this.#influx.alterRetentionPolicy(name, opts);
            this.#log.info({ database: this.#db, policy: name, duration, was: have.duration }, 'changed retention policy');
          }
        }
        if (this.#storeInfo) await this.#influx.writePoints([storeInfoPoint(this.#storeInfo)], { precision: 'n', retentionPolicy: RP_META });
        this.#dbReady = true;
      } finally {
        this.#dbSetup = null;
      }
    })();
    return this.#dbSetup;
  }

  #checkQuery(store: string, fromMs: number, toMs: number): void {
    if (!isId(store)) throw new GwError(ErrorCodes.BAD_PARAM, `store: not a store id: ${JSON.stringify(store)}`);
    if (!Number.isFinite(fromMs) || !Number.isFinite(toMs)) {
      throw new GwError(ErrorCodes.BAD_PARAM, `from/to: expected finite epoch ms, got ${fromMs}, ${toMs}`);
    }
    if (this.#closed) throw new GwError(ErrorCodes.STORE_IO, 'history store is closed');
  }

  /** `time >= a AND time < b` in ns for entry ms in [fromMs, toMs): the hash only adds 0..999 999 ns */
  #timeRange(fromMs: number, toMs: number): string | null {
    const clamp = (ms: number) => Math.min(MAX_MS, Math.max(-MAX_MS, Math.ceil(ms)));
    const lo = BigInt(clamp(fromMs)) * NS_PER_MS;
    const hi = BigInt(clamp(toMs)) * NS_PER_MS;
    return hi <= lo ? null : `time >= ${lo} AND time < ${hi}`;
  }

  async #select(what: string): Promise<Rows> {
    let raw: unknown;
    try {
      await this.#ensureDb();
      raw = await this.#influx.queryRaw(what, { database: this.#db });
    } catch (err) {
      throw new GwError(ErrorCodes.STORE_IO, `InfluxDB query failed (${this.detail}): ${errMsg(err)}`, { cause: err });
    }
    type Series = { columns?: string[]; values?: unknown[][] };
    type Result = { series?: Series[]; error?: string; partial?: boolean };
    const results = (raw as { results?: Result[] } | null)?.results;
    if (!Array.isArray(results)) throw new GwError(ErrorCodes.STORE_IO, 'InfluxDB query: unexpected response shape');
    const out: Rows = [];
    for (const r of results) {
      if (r.error) throw new GwError(ErrorCodes.STORE_IO, `InfluxDB query failed: ${r.error}`);
      // the server's max-row-limit cut the answer: a report over it would be silently wrong
      if (r.partial) throw new GwError(ErrorCodes.STORE_IO, 'InfluxDB truncated the query result (max-row-limit); query a shorter period');
      for (const s of r.series ?? []) {
        const cols = s.columns ?? [];
        for (const row of s.values ?? []) {
          const o: Record<string, unknown> = {};
          cols.forEach((c, i) => {
            const x = row[i];
            if (x !== null && x !== undefined && x !== '') o[c] = x; // an absent tag reads as "" or null
          });
          out.push(o);
        }
      }
    }
    return out;
  }

  async query(store: string, fromMs: number, toMs: number): Promise<Visit[]> {
    this.#checkQuery(store, fromMs, toMs);
    return this.#queryRaw(store, fromMs, toMs);
  }

  async #queryRaw(store: string, fromMs: number, toMs: number): Promise<Visit[]> {
    const range = this.#timeRange(fromMs, toMs);
    if (!range) return [];
    // store is an Id (no quotes, no backslashes) and escaped anyway
    const rows = await this.#select(
      `SELECT * FROM ${escape.quoted(RP_RAW)}.${escape.quoted(M.visit)} WHERE ${escape.quoted('store')} = ${escape.stringLit(store)} AND ${range}`,
    );
    const out: Visit[] = [];
    for (const row of rows) {
      const v = this.#rowToVisit(row, store);
      if (v) out.push(v);
    }
    return out;
  }

  #rowToVisit(row: Record<string, unknown>, store: string): Visit | null {
    const time = typeof row.time === 'string' ? row.time : undefined;
    const v: Record<string, unknown> = {
      store: row.store ?? store,
      party: row.party,
      outcome: row.outcome,
      entryTime: time === undefined ? null : rfc3339ToIsoMs(time),
      size: row.size,
    };
    const opt: [keyof Visit, string][] = [
      ['greetTime', 'greet_time'],
      ['ttgS', 'ttg_s'],
      ['staff', 'staff'],
      ['breachTime', 'breach_time'],
      ['markTime', 'mark_time'],
      ['closedTime', 'closed_time'],
    ];
    for (const [key, col] of opt) if (row[col] !== undefined) v[key] = row[col];
    if (!this.#check.Check(v)) {
      // not written by us (or by an incompatible version): skip rather than fail the report
      const e = this.#check.Errors(v).First();
      this.#log.warn({ code: ErrorCodes.STORE_IO, row: v, reason: e ? `${e.path}: ${e.message}` : 'invalid' }, 'skipping unreadable visit row');
      return null;
    }
    return v;
  }

  /** hourly rollups of one store whose hour starts in [fromMs, toMs) */
  async rollups(store: string, fromMs: number, toMs: number): Promise<PeriodRollups> {
    this.#checkQuery(store, fromMs, toMs);
    const range = this.#timeRange(fromMs, toMs);
    if (!range) return { hours: [], staff: [] };
    const where = `WHERE ${escape.quoted('store')} = ${escape.stringLit(store)} AND ${range}`;
    const [hourRows, staffRows] = await Promise.all([
      this.#select(`SELECT * FROM ${escape.quoted(RP_ROLLUP)}.${escape.quoted(M.hourly)} ${where}`),
      this.#select(`SELECT * FROM ${escape.quoted(RP_ROLLUP)}.${escape.quoted(M.staffHourly)} ${where}`),
    ]);
    const int = (x: unknown): number => (typeof x === 'number' && Number.isInteger(x) ? x : 0);
    const at = (row: Record<string, unknown>) => Date.parse(String(row.time));
    const hours = hourRows.map(
      (r): HourRollup => ({
        startMs: at(r),
        visits: int(r.visits),
        met: int(r.met),
        late: int(r.late),
        walkouts: int(r.walkouts),
        shortWalkouts: int(r.short_walkouts),
        missed: int(r.missed),
        greeted: int(r.greeted),
        ttgSumMs: int(r.ttg_sum_ms),
        ttgMaxMs: typeof r.ttg_max_ms === 'number' ? r.ttg_max_ms : null,
        hist: decodeHist(typeof r.ttg_hist === 'string' ? r.ttg_hist : ''),
      }),
    );
    const staff = staffRows
      .filter((r) => typeof r.staff === 'string')
      .map((r): StaffHourRollup => ({ startMs: at(r), staff: String(r.staff), greets: int(r.greets), met: int(r.met), ttgSumMs: int(r.ttg_sum_ms) }));
    return { hours, staff };
  }

  /** the stores that keep history in this database (a chain's shared InfluxDB) */
  async stores(): Promise<StoreInfo[]> {
    if (this.#closed) throw new GwError(ErrorCodes.STORE_IO, 'history store is closed');
    const rows = await this.#select(`SELECT * FROM ${escape.quoted(RP_META)}.${escape.quoted(M.storeInfo)}`);
    const out: StoreInfo[] = [];
    for (const r of rows) {
      if (typeof r.store !== 'string' || !isId(r.store) || typeof r.timezone !== 'string') continue;
      const s: StoreInfo = {
        store: r.store,
        timezone: r.timezone,
        serviceLevelTarget: typeof r.service_level_target === 'number' ? r.service_level_target : 0.8,
        greetWithinS: typeof r.greet_within_s === 'number' ? r.greet_within_s : 30,
      };
      if (typeof r.name === 'string') s.name = r.name;
      out.push(s);
    }
    return out.sort((a, b) => a.store.localeCompare(b.store));
  }

  /** raw points are kept this long (reports older than that come from rollups) */
  rawRetentionMs(): number {
    return durationMs(this.#retention.raw);
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      if (this.#retryTimer) {
        clearTimeout(this.#retryTimer);
        this.#retryTimer = null;
      }
      if (this.#flushTimer) {
        clearTimeout(this.#flushTimer);
        this.#flushTimer = null;
      }
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#closeTimeoutMs);
      });
      // what is batched goes to the spool first (durable), then one bounded drain attempt
      const work = (async () => {
        await this.#flushing;
        if (this.#batch.length > 0) await this.#toSpool();
        else if (this.#spool.stats().records > 0 || this.#draining) await this.#kick();
      })();
      await Promise.race([work, timeout]);
      clearTimeout(timer);
      await this.#draining?.catch(() => false);
      if (this.#batch.length > 0) {
        this.#stats.dropped += this.#batch.length;
        this.#log.error({ code: ErrorCodes.STORE_IO, lost: this.#batch.length }, 'closing with points neither the spool nor InfluxDB took; they are lost');
        this.#batch = [];
      }
      const left = this.#spool.stats().points;
      if (left > 0) this.#log.warn({ points: left }, 'closing with points in the history spool; they are written at the next start');
      for (const w of this.#waiting.splice(0)) w.resolve();
      await this.#spool.close();
    })();
    return this.#closed;
  }
}

/** History on InfluxDB 1.x (see the file header and history/schema.ts). Opens the spool, then drains what it holds. */
export async function influxVisitStore(opts: InfluxStoreOptions): Promise<InfluxVisitStore> {
  const log = opts.log ?? pino();
  const spool = await openSpool({ dir: opts.spoolDir, log, ...(opts.spoolMaxBytes !== undefined ? { maxBytes: opts.spoolMaxBytes } : {}), ...(opts.spoolFs ? { fs: opts.spoolFs } : {}) });
  const store = new InfluxStore(opts, spool);
  if (spool.stats().records > 0) void store.flush(); // never rejects: a failure starts the retry timer
  return store;
}
