import { ErrorCodes, GwError } from '../../contract/index.ts';
import type { TimeZone } from '../engine/tz.ts';

// Report period parameters. `from`/`to` take an RFC 3339 instant, a store-local
// date (YYYY-MM-DD = local midnight) or a local date-time without offset.

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const LOCAL = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i;
/** ten years: long periods come from the hourly rollups (README "History") */
const MAX_RANGE_MS = 3660 * 86_400_000;

export function parseTimeParam(name: string, raw: unknown, tz: TimeZone): number {
  if (typeof raw !== 'string' || raw.trim() === '') {
    throw new GwError(ErrorCodes.BAD_PARAM, `${name}: required, an ISO date or date-time (e.g. 2026-11-23 or 2026-11-23T09:00:00Z)`);
  }
  const s = raw.trim();
  let ms = NaN;
  let m: RegExpExecArray | null;
  if ((m = DATE.exec(s))) {
    ms = validYmd(+m[1]!, +m[2]!, +m[3]!) ? tz.fromLocal(+m[1]!, +m[2]!, +m[3]!) : NaN;
  } else if ((m = LOCAL.exec(s))) {
    ms = validYmd(+m[1]!, +m[2]!, +m[3]!) && +m[4]! < 24 && +m[5]! < 60 ? tz.fromLocal(+m[1]!, +m[2]!, +m[3]!, +m[4]!, +m[5]!, +(m[6] ?? 0), +(m[7] ?? '0').padEnd(3, '0')) : NaN;
  } else if (INSTANT.test(s)) {
    ms = Date.parse(s);
  }
  if (!Number.isFinite(ms)) {
    throw new GwError(ErrorCodes.BAD_PARAM, `${name}: ${JSON.stringify(raw)} is not a date (use 2026-11-23, 2026-11-23T09:00 store-local, or 2026-11-23T09:00:00Z)`);
  }
  return ms;
}

function validYmd(y: number, mo: number, d: number): boolean {
  const t = new Date(Date.UTC(y, mo - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d;
}

export function parsePeriod(query: Record<string, unknown>, tz: TimeZone): { fromMs: number; toMs: number } {
  const fromMs = parseTimeParam('from', query.from, tz);
  const toMs = parseTimeParam('to', query.to, tz);
  if (toMs <= fromMs) throw new GwError(ErrorCodes.BAD_PARAM, `to: must be after from (${new Date(fromMs).toISOString()})`);
  if (toMs - fromMs > MAX_RANGE_MS) throw new GwError(ErrorCodes.BAD_PARAM, `to: the period may span at most 3660 days (ten years)`);
  return { fromMs, toMs };
}
