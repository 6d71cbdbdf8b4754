import { createHash } from 'node:crypto';
import { InfluxDB, FieldType, escape, type IPoint, type IPoolOptions } from 'influx';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { pino, type Logger } from 'pino';
import { ErrorCodes, GwError, Visit, isId } from '../contract/index.ts';
import type { VisitStore } from './visit-store.ts';

// Final visits kept in InfluxDB 1.x (the hub's history). One point per visit:
//   measurement `visit`, time = entryTime (ns, see subMsNanos), tags store/outcome/staff,
//   fields party, size, ttg_s, greet_time, mark_time, breach_time, closed_time.
// Writes never reject: an outage only grows an in-memory backlog that is retried in order.

export interface InfluxStoreOptions {
  /** http(s)://[user:pass@]host[:port][/path]; credentials in the URL are used, never logged */
  url: string;
  database: string;
  log?: Logger;
  /** first retry delay after a failed write; doubles per failure up to 32x (at most 30 s). Default 1000. */
  retryMs?: number;
  /** HTTP timeout per request; default 10 s */
  requestTimeoutMs?: number;
  /** close() waits this long at most for a final flush; default 5 s */
  closeTimeoutMs?: number;
  /** points per write request; default 500 */
  batchSize?: number;
  /** backlog cap: beyond it the oldest unwritten visits are dropped (logged, counted). Default 100 000. */
  maxBacklog?: number;
}

export interface InfluxStoreStats {
  /** points acknowledged by InfluxDB */
  written: number;
  /** failed write/DB-setup attempts (each logged with GW_ERR_STORE_IO) */
  failures: number;
  /** visits given up on: invalid, rejected by InfluxDB as unwritable, over maxBacklog, or left at close */
  dropped: number;
  backlog: number;
}

export interface InfluxVisitStore extends VisitStore {
  stats(): InfluxStoreStats;
}

const MEASUREMENT = 'visit';
const NS_PER_MS = 1_000_000n;
/** InfluxDB 1.x accepts times within ±(2^63 − 2) ns; query bounds are clamped to that (in ms). */
const MAX_MS = 9_223_372_036_853;

/**
 * Sub-millisecond part (0..999 999 ns) of a visit's point time, derived from its party id.
 * Two parties entering in the same millisecond with the same tags would otherwise be one
 * point (InfluxDB overwrites on equal series+time); a hash keeps rewrites of the same
 * visit on the same point, so writing is idempotent.
 */
export function subMsNanos(party: string): number {
  const h = createHash('sha256').update(party, 'utf8').digest();
  return h.readUIntBE(0, 6) % 1_000_000;
}

/** Point time in ns (decimal string, as the line protocol takes it). */
export function visitTimeNs(v: Pick<Visit, 'entryTime' | 'party'>): string {
  const ms = Date.parse(v.entryTime);
  return (BigInt(ms) * NS_PER_MS + BigInt(subMsNanos(v.party))).toString();
}

function toPoint(v: Visit): IPoint {
  const tags: Record<string, string> = { store: v.store, outcome: v.outcome };
  if (v.staff !== undefined) tags.staff = v.staff;
  const fields: Record<string, string | number> = { party: v.party, size: v.size };
  if (v.ttgS !== undefined) fields.ttg_s = v.ttgS;
  if (v.greetTime !== undefined) fields.greet_time = v.greetTime;
  if (v.markTime !== undefined) fields.mark_time = v.markTime;
  if (v.breachTime !== undefined) fields.breach_time = v.breachTime;
  if (v.closedTime !== undefined) fields.closed_time = v.closedTime;
  return { measurement: MEASUREMENT, tags, fields, timestamp: visitTimeNs(v) };
}

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
    host: u.hostname.replace(/^\[(.*)\]$/, '$1'), // IPv6 literal without brackets for http.request
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

type Pending = { point: IPoint; party: string };

const visitCheck = () => TypeCompiler.Compile(Visit);

class InfluxStore implements InfluxVisitStore {
  readonly persistent = true;
  readonly detail: string;
  readonly #influx: InfluxDB;
  readonly #db: string;
  readonly #log: Logger;
  readonly #retryMs: number;
  readonly #maxRetryMs: number;
  readonly #closeTimeoutMs: number;
  readonly #batchSize: number;
  readonly #maxBacklog: number;
  readonly #check = visitCheck();

  /** in write order; removed from the head when written, dropped (overflow) or at close */
  readonly #queue: Pending[] = [];
  #draining: Promise<boolean> | null = null;
  #retryTimer: NodeJS.Timeout | null = null;
  /** consecutive failures (backoff exponent); 0 = healthy */
  #attempt = 0;
  /** after a 400 on a batch: write this many head points one by one to find the bad ones */
  #isolate = 0;
  #dbReady = false;
  #dbSetup: Promise<void> | null = null;
  #closed: Promise<void> | null = null;
  #stats = { written: 0, failures: 0, dropped: 0 };

  constructor(opts: InfluxStoreOptions) {
    const u = parseUrl(opts.url);
    this.#db = opts.database;
    this.#log = (opts.log ?? pino()).child({ name: 'hub:influx-store' });
    this.#retryMs = Math.max(1, opts.retryMs ?? 1000);
    this.#maxRetryMs = Math.max(this.#retryMs, Math.min(this.#retryMs * 32, 30_000));
    this.#closeTimeoutMs = opts.closeTimeoutMs ?? 5000;
    this.#batchSize = Math.max(1, opts.batchSize ?? 500);
    this.#maxBacklog = Math.max(1, opts.maxBacklog ?? 100_000);
    this.detail = `history in InfluxDB ${u.safe} db ${opts.database}`;
    // Our own queue does the retrying and backoff: the pool must not disable the host for
    // its own (up to 10 s) backoff, or a drain after the server is back would be delayed.
    const noBackoff: NonNullable<IPoolOptions['backoff']> = { getDelay: () => 0, next: () => noBackoff, reset: () => noBackoff };
    this.#influx = new InfluxDB({
      host: u.host,
      port: u.port,
      protocol: u.protocol,
      path: u.path,
      ...(u.username !== undefined ? { username: u.username } : {}),
      ...(u.password !== undefined ? { password: u.password } : {}),
      database: opts.database,
      pool: { maxRetries: 0, requestTimeout: opts.requestTimeoutMs ?? 10_000, backoff: noBackoff },
      schema: [
        {
          measurement: MEASUREMENT,
          tags: ['store', 'outcome', 'staff'],
          fields: {
            party: FieldType.STRING,
            size: FieldType.INTEGER,
            ttg_s: FieldType.FLOAT,
            greet_time: FieldType.STRING,
            mark_time: FieldType.STRING,
            breach_time: FieldType.STRING,
            closed_time: FieldType.STRING,
          },
        },
      ],
    });
  }

  backlog(): number {
    return this.#queue.length;
  }

  stats(): InfluxStoreStats {
    return { ...this.#stats, backlog: this.#queue.length };
  }

  /** Resolves once the visits are acknowledged, or queued for retry when InfluxDB is unreachable. */
  write(visits: readonly Visit[]): Promise<void> {
    if (this.#closed) {
      this.#stats.dropped += visits.length;
      this.#log.error({ code: ErrorCodes.STORE_IO, visits: visits.length }, 'write after close: visits not stored');
      return Promise.resolve();
    }
    for (const v of visits) {
      const p = this.#prepare(v);
      if (p) this.#queue.push(p);
    }
    if (this.#queue.length > this.#maxBacklog) {
      const over = this.#queue.length - this.#maxBacklog;
      const lost = this.#queue.splice(0, over);
      this.#isolate = Math.max(0, this.#isolate - over);
      this.#stats.dropped += over;
      this.#log.error(
        { code: ErrorCodes.STORE_IO, dropped: over, first: lost[0]?.party, maxBacklog: this.#maxBacklog },
        'history backlog full: oldest unwritten visits dropped',
      );
    }
    // while backing off the visits just wait in the queue: the retry timer will take them
    return this.#retryTimer ? Promise.resolve() : this.#kick();
  }

  /** Validates and converts; a visit that can never be written is dropped here, not queued forever. */
  #prepare(v: Visit): Pending | null {
    let why: string | null = null;
    if (!this.#check.Check(v)) {
      const e = this.#check.Errors(v).First();
      why = e ? `${e.path || 'visit'}: ${e.message}` : 'not a Visit';
    } else if (!Number.isFinite(Date.parse(v.entryTime))) {
      why = `entryTime: not a date: ${v.entryTime}`;
    }
    if (why === null) {
      const point = toPoint(v);
      try {
        this.#influx.parsePoint(point, { precision: 'n' }); // schema coercion throws here, not mid-batch
        return { point, party: v.party };
      } catch (err) {
        why = errMsg(err);
      }
    }
    this.#stats.dropped += 1;
    const party = typeof (v as { party?: unknown }).party === 'string' ? v.party : undefined;
    this.#log.error({ code: ErrorCodes.STORE_IO, party, reason: why }, 'invalid visit not stored');
    return null;
  }

  async #kick(): Promise<void> {
    // Loop: a write that lands just as a drain finishes would otherwise be left unscheduled.
    while (this.#queue.length > 0 && this.#retryTimer === null) {
      this.#draining ??= this.#drain().finally(() => {
        this.#draining = null;
      });
      if (!(await this.#draining)) return; // failed: the retry timer (unless closing) takes over
    }
  }

  /** Writes the queue head in batches until empty (true) or a failure (false). Never rejects. */
  async #drain(): Promise<boolean> {
    while (this.#queue.length > 0) {
      const n = this.#isolate > 0 ? 1 : Math.min(this.#batchSize, this.#queue.length);
      const batch = this.#queue.slice(0, n);
      try {
        await this.#ensureDb();
      } catch (err) {
        this.#fail(err); // setup errors are never about the points: always retry
        return false;
      }
      try {
        await this.#influx.writePoints(
          batch.map((p) => p.point),
          { precision: 'n' },
        );
      } catch (err) {
        const status = httpStatus(err);
        if (status === 400) {
          // InfluxDB refused the data itself (e.g. field type conflict): retrying cannot help.
          // Valid points of a partial write were stored; find the bad ones one by one.
          if (n > 1) {
            this.#isolate = n;
            continue;
          }
          this.#removeHead(batch);
          this.#isolate = Math.max(0, this.#isolate - 1);
          this.#stats.dropped += 1;
          this.#log.error({ code: ErrorCodes.STORE_IO, party: batch[0]?.party, err: errMsg(err) }, 'InfluxDB rejected a visit; not stored');
          continue;
        }
        if (status === 404) this.#dbReady = false; // database dropped under us: recreate it
        this.#fail(err);
        return false;
      }
      this.#removeHead(batch);
      this.#isolate = Math.max(0, this.#isolate - n);
      this.#stats.written += n;
      if (this.#attempt > 0) {
        this.#log.info({ afterFailures: this.#attempt, backlog: this.#queue.length }, 'InfluxDB reachable again; draining backlog');
        this.#attempt = 0;
      }
    }
    return true;
  }

  /** Removes a written batch from the queue head; by identity, since a backlog overflow or
   *  close() may have dropped head items while the request was in flight. */
  #removeHead(batch: readonly Pending[]): void {
    const done = new Set(batch);
    let k = 0;
    while (k < this.#queue.length && done.has(this.#queue[k] as Pending)) k++;
    this.#queue.splice(0, k);
  }

  #fail(err: unknown): void {
    this.#attempt += 1;
    this.#stats.failures += 1;
    const fields = { code: ErrorCodes.STORE_IO, err: errMsg(err), backlog: this.#queue.length, attempt: this.#attempt };
    if (this.#closed) {
      this.#log.error(fields, 'InfluxDB write failed while closing');
      return;
    }
    const delay = Math.min(this.#retryMs * 2 ** Math.min(this.#attempt - 1, 30), this.#maxRetryMs);
    // first failure of an outage is an error; the repeats are warnings (one per backoff step)
    if (this.#attempt === 1) this.#log.error({ ...fields, retryInMs: delay }, 'InfluxDB write failed; visits kept in memory and retried');
    else this.#log.warn({ ...fields, retryInMs: delay }, 'InfluxDB write still failing');
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.#kick().catch((e: unknown) => this.#log.error({ code: ErrorCodes.STORE_IO, err: errMsg(e) }, 'history retry crashed'));
    }, delay);
    this.#retryTimer.unref(); // pending history must not keep the process alive; close() flushes
  }

  /** Creates the database (and a keep-forever default retention policy) if missing. */
  #ensureDb(): Promise<void> {
    if (this.#dbReady) return Promise.resolve();
    this.#dbSetup ??= (async () => {
      try {
        const names = await this.#influx.getDatabaseNames();
        if (!names.includes(this.#db)) {
          // CREATE DATABASE also creates "autogen" (infinite duration) as default retention policy
          await this.#influx.createDatabase(this.#db);
          this.#log.info({ database: this.#db }, 'created InfluxDB database');
        }
        const rps = await this.#influx.showRetentionPolicies(this.#db);
        if (!rps.some((rp) => rp.default)) {
          // servers with retention-autocreate=false: without a default policy writes fail
          await this.#influx.createRetentionPolicy('forever', { database: this.#db, duration: 'INF', replication: 1, isDefault: true });
          this.#log.info({ database: this.#db }, 'created default retention policy "forever"');
        }
        this.#dbReady = true;
      } finally {
        this.#dbSetup = null;
      }
    })();
    return this.#dbSetup;
  }

  async query(store: string, fromMs: number, toMs: number): Promise<Visit[]> {
    if (!isId(store)) throw new GwError(ErrorCodes.BAD_PARAM, `store: not a store id: ${JSON.stringify(store)}`);
    if (!Number.isFinite(fromMs) || !Number.isFinite(toMs)) {
      throw new GwError(ErrorCodes.BAD_PARAM, `from/to: expected finite epoch ms, got ${fromMs}, ${toMs}`);
    }
    if (this.#closed) throw new GwError(ErrorCodes.STORE_IO, 'history store is closed');
    // entry ms t is in [from, to) iff its point time is in [ceil(from)·1e6, ceil(to)·1e6): the
    // hash only adds 0..999 999 ns
    const clamp = (ms: number) => Math.min(MAX_MS, Math.max(-MAX_MS, Math.ceil(ms)));
    const lo = BigInt(clamp(fromMs)) * NS_PER_MS;
    const hi = BigInt(clamp(toMs)) * NS_PER_MS;
    if (hi <= lo) return [];
    // store is an Id (no quotes, no backslashes) and escaped anyway
    const q =
      `SELECT * FROM ${escape.quoted(MEASUREMENT)} WHERE ${escape.quoted('store')} = ${escape.stringLit(store)}` +
      ` AND time >= ${lo} AND time < ${hi}`;
    let raw: unknown;
    try {
      await this.#ensureDb();
      raw = await this.#influx.queryRaw(q, { database: this.#db });
    } catch (err) {
      throw new GwError(ErrorCodes.STORE_IO, `InfluxDB query failed (${this.detail}): ${errMsg(err)}`, { cause: err });
    }
    return this.#parseRows(raw, store);
  }

  #parseRows(raw: unknown, store: string): Visit[] {
    type Series = { columns?: string[]; values?: unknown[][] };
    type Result = { series?: Series[]; error?: string; partial?: boolean };
    const results = (raw as { results?: Result[] } | null)?.results;
    if (!Array.isArray(results)) throw new GwError(ErrorCodes.STORE_IO, 'InfluxDB query: unexpected response shape');
    const out: Visit[] = [];
    for (const r of results) {
      if (r.error) throw new GwError(ErrorCodes.STORE_IO, `InfluxDB query failed: ${r.error}`);
      if (r.partial) {
        // the server's max-row-limit cut the answer: a report over it would be silently wrong
        throw new GwError(ErrorCodes.STORE_IO, 'InfluxDB truncated the query result (max-row-limit); query a shorter period');
      }
      for (const s of r.series ?? []) {
        const cols = s.columns ?? [];
        for (const row of s.values ?? []) {
          const get = (name: string): unknown => {
            const i = cols.indexOf(name);
            const val = i < 0 ? null : row[i];
            return val === '' ? null : val; // an absent tag reads as "" or null
          };
          const v = this.#rowToVisit(get, store);
          if (v) out.push(v);
        }
      }
    }
    return out;
  }

  #rowToVisit(get: (name: string) => unknown, store: string): Visit | null {
    const str = (name: string): string | undefined => {
      const x = get(name);
      return typeof x === 'string' ? x : undefined;
    };
    const time = str('time');
    const entryTime = time === undefined ? null : rfc3339ToIsoMs(time);
    const v: Record<string, unknown> = {
      store: str('store') ?? store,
      party: get('party'),
      outcome: get('outcome'),
      entryTime,
      size: get('size'),
    };
    const opt: [keyof Visit, string][] = [
      ['greetTime', 'greet_time'],
      ['ttgS', 'ttg_s'],
      ['staff', 'staff'],
      ['breachTime', 'breach_time'],
      ['markTime', 'mark_time'],
      ['closedTime', 'closed_time'],
    ];
    for (const [key, col] of opt) {
      const x = get(col);
      if (x !== null && x !== undefined) v[key] = x;
    }
    if (!this.#check.Check(v)) {
      // not written by us (or by an incompatible version): skip rather than fail the report
      const e = this.#check.Errors(v).First();
      this.#log.warn({ code: ErrorCodes.STORE_IO, row: v, reason: e ? `${e.path}: ${e.message}` : 'invalid' }, 'skipping unreadable visit row');
      return null;
    }
    return v;
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      if (this.#retryTimer) {
        clearTimeout(this.#retryTimer);
        this.#retryTimer = null;
      }
      if (this.#queue.length > 0 || this.#draining) {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.#closeTimeoutMs);
        });
        await Promise.race([this.#kick(), timeout]);
        clearTimeout(timer);
      }
      if (this.#queue.length > 0) {
        const lost = this.#queue.splice(0);
        this.#isolate = 0;
        this.#stats.dropped += lost.length;
        this.#log.error(
          { code: ErrorCodes.STORE_IO, lost: lost.length, first: lost[0]?.party },
          'closing with visits InfluxDB never acknowledged; they are lost',
        );
      }
    })();
    return this.#closed;
  }
}

/** VisitStore on InfluxDB 1.x (see file header for the point layout). */
export function influxVisitStore(opts: InfluxStoreOptions): InfluxVisitStore {
  return new InfluxStore(opts);
}
