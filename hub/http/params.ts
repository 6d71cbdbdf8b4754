import { Type } from '@sinclair/typebox';
import type { FastifyError } from 'fastify';
import { ErrorCodes, GwError } from '../../contract/index.ts';
import type { TimeZone } from '../engine/tz.ts';

// Report period parameters. `from`/`to` take an RFC 3339 instant, a store-local
// date (YYYY-MM-DD = local midnight) or a local date-time without offset.

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const LOCAL = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/;
const INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i;
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
    ms = validYmd(+m[1]!, +m[2]!, +m[3]!) && +m[4]! < 24 && +m[5]! < 60 && +(m[6] ?? 0) < 60 ? tz.fromLocal(+m[1]!, +m[2]!, +m[3]!, +m[4]!, +m[5]!, +(m[6] ?? 0), +(m[7] ?? '0').padEnd(3, '0')) : NaN;
  } else if ((m = INSTANT.exec(s))) {
    // Date.parse rolls 2026-02-30 over into March and reads 24:00 as the next midnight
    ms = validYmd(+m[1]!, +m[2]!, +m[3]!) && +m[4]! < 24 ? Date.parse(s) : NaN;
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

// Route schemas (TypeBox) give each parameter its shape and type; what a value means (a
// date, a week, a store this hub serves) is judged by the parsers above and in the routes,
// whose messages say more than a schema's. Unknown query parameters are dropped (fastify's
// removeAdditional), as before; `token` is refused before that (hub/http/auth.ts).

/** `:store` in a path */
export const StoreParams = Type.Object({ store: Type.String() }, { additionalProperties: false });
/** an optional single string (a repeated parameter is refused: `from: must be string`) */
export const OptionalString = () => Type.Optional(Type.String());

/** fastify's schema errors as the API words a bad parameter: `<param>: <message>` (README "HTTP API") */
export function validationMessage(err: FastifyError): string {
  const first = err.validation?.[0];
  if (!first) return err.message;
  const params = first.params as { missingProperty?: unknown; additionalProperty?: unknown };
  const seg = first.instancePath.split('/').filter(Boolean)[0];
  const name = seg ?? (typeof params.missingProperty === 'string' ? params.missingProperty : typeof params.additionalProperty === 'string' ? params.additionalProperty : err.validationContext ?? 'request');
  if (first.keyword === 'required') return `${name}: required`;
  if (first.keyword === 'additionalProperties') return `${name}: unknown parameter`;
  return `${name}: ${first.message ?? 'invalid'}`;
}
