import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { TSchema } from '@sinclair/typebox';
import { ErrorCodes, type ErrorCode } from './errors.ts';
import { EVENT_DATA, Envelope, NodeStatus, NodeCmd, type EventType, type GwEvent } from './events.ts';
import { parseSource } from './topics.ts';

// Runtime validator for CONTRACT.md events. Compiled once per process (TypeCompiler
// turns schemas into plain JS checks: the hub validates every event on the hot path).

/**
 * How deeply a payload's JSON may nest (objects and arrays). A contract event nests 2 levels;
 * extensions and extra data fields may add some. Deeper JSON is refused before it is parsed:
 * the schemas allow extra properties, so without this a valid event could carry 5,000 levels
 * that JSON.stringify (the trace, /live, the stream) cannot write back (npm run fuzz).
 */
export const MAX_JSON_DEPTH = 32;

/** JSON text must be UTF-8 (RFC 8259): bytes that are not are refused, never replaced with U+FFFD. A BOM is kept, so JSON.parse refuses it. */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** whether objects and arrays in JSON text nest deeper than `limit` (brackets inside strings do not count) */
function nestsDeeper(text: string, limit: number): boolean {
  // no deeper than it has opening brackets, in strings or not: an event has a few, found by
  // native scans, where the walk below reads every character in JS
  if (count(text, '{', limit + 1) + count(text, '[', limit + 1) <= limit) return false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // a string: on to its closing quote, one not escaped (an even run of backslashes before it).
      // indexOf runs in native code, and most of an event's text is strings (README "Benchmarks")
      let end = text.indexOf('"', i + 1);
      for (;;) {
        if (end < 0) return false;
        let backslashes = 0;
        while (text.charCodeAt(end - 1 - backslashes) === 0x5c) backslashes++; // stops at the opening quote at the latest
        if (backslashes % 2 === 0) break;
        end = text.indexOf('"', end + 1);
      }
      i = end;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** occurrences of `c` in `text`, counted up to `cap` */
function count(text: string, c: string, cap: number): number {
  let n = 0;
  for (let i = text.indexOf(c); i >= 0 && n < cap; i = text.indexOf(c, i + 1)) n++;
  return n;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|[+-](\d{2}):(\d{2}))$/;
const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Whether an RFC 3339 time names a real instant. Date.parse alone is too kind: it takes
 * 24:00:00 and rolls 2026-11-31 over to December 1st, so an impossible date near now would
 * pass the skew check. Leap seconds (:60) are refused: a JavaScript Date cannot hold one.
 */
export function isRealTime(s: string): boolean {
  // the canonical form nodes send, read digit by digit: the regex and Date.parse below cost
  // more than the rest of an event's validation (README "Benchmarks")
  if (canonicalShape(s)) return !Number.isNaN(canonicalMs(s));
  const m = RFC3339.exec(s);
  if (!m) return false;
  const [y, mo, d, h, mi, sec] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i]));
  if (mo! < 1 || mo! > 12 || d! < 1 || d! > daysInMonth(y!, mo!) || h! > 23 || mi! > 59 || sec! > 59) return false;
  if (m[7] !== undefined && (Number(m[7]) > 23 || Number(m[8]) > 59)) return false;
  return Number.isFinite(Date.parse(s));
}

/**
 * Milliseconds of an RFC 3339 time. Nodes send the canonical form (`toISOString()`, 24
 * characters, UTC), read here digit by digit: Date.parse costs more than the rest of the
 * engine's work on an event. Anything else, and out-of-range fields and month ends (never
 * rolled over here), are Date.parse's to judge.
 */
export function timeMs(s: string): number {
  if (!canonicalShape(s)) return Date.parse(s);
  const ms = canonicalMs(s);
  return Number.isNaN(ms) ? Date.parse(s) : ms;
}

/** ms of 10000-01-01T00:00:00.000Z: below it (and from 1970 on) the canonical form has 24 characters */
const YEAR_10000_MS = 253_402_300_800_000;

/**
 * `new Date(ms).toISOString()`, the canonical form `timeMs` reads, built from digits: a Date
 * and its formatting cost about three times as much, once per history point. Times before
 * 1970, from the year 10000 on, or not whole milliseconds are the Date's to write.
 */
export function isoTime(ms: number): string {
  if (!(ms >= 0 && ms < YEAR_10000_MS && Number.isInteger(ms))) return new Date(ms).toISOString();
  const days = Math.floor(ms / 86_400_000);
  let rest = ms - days * 86_400_000;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const mi = Math.floor(rest / 60_000);
  rest -= mi * 60_000;
  const sec = Math.floor(rest / 1000);
  const milli = rest - sec * 1000;
  // H. Hinnant's civil_from_days, for days since 1970 (era 4 on)
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const mo = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (mo <= 2 ? 1 : 0);
  return `${y}-${pad2(mo)}-${pad2(d)}T${pad2(h)}:${pad2(mi)}:${pad2(sec)}.${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}
const pad2 = (n: number): string => (n < 10 ? `0${n}` : `${n}`);

/** the punctuation of `toISOString()`'s form: YYYY-MM-DDTHH:MM:SS.sssZ */
function canonicalShape(s: string): boolean {
  return s.length === 24 && s.charCodeAt(23) === 90 /* Z */ && s.charCodeAt(10) === 84 /* T */ && s.charCodeAt(19) === 46 /* . */ && s.charCodeAt(4) === 45 && s.charCodeAt(7) === 45 && s.charCodeAt(13) === 58 && s.charCodeAt(16) === 58;
}

/** milliseconds of a time of canonical shape; NaN unless every field is digits, in range and within its month */
function canonicalMs(s: string): number {
  const y = two(s, 0) * 100 + two(s, 2);
  const mo = two(s, 5);
  const day = two(s, 8);
  const h = two(s, 11);
  const mi = two(s, 14);
  const sec = two(s, 17);
  const ms = two(s, 20) * 10 + digit(s, 22);
  // a non-digit makes its field negative; years 0000–9999 are all within a Date's range
  if (!(y >= 0 && mo >= 1 && mo <= 12 && day >= 1 && h >= 0 && h <= 23 && mi >= 0 && mi <= 59 && sec >= 0 && sec <= 59 && ms >= 0)) return NaN;
  if (day > 28 && day > daysInMonth(y, mo)) return NaN;
  return ((daysFromCivil(y, mo, day) * 24 + h) * 60 + mi) * 60_000 + sec * 1000 + ms;
}

/** days of month `mo` (1–12) of year `y`, Gregorian leap years */
function daysInMonth(y: number, mo: number): number {
  return mo === 2 && y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : DAYS[mo - 1]!;
}
/** one decimal digit at `at`, or a value that makes any field it is part of negative */
function digit(s: string, at: number): number {
  const d = s.charCodeAt(at) - 48;
  return d >= 0 && d <= 9 ? d : -100_000;
}
/** two decimal digits at `at`, negative if either is not a digit */
function two(s: string, at: number): number {
  return digit(s, at) * 10 + digit(s, at + 1);
}
/** days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil) */
function daysFromCivil(y0: number, m: number, d: number): number {
  const y = m <= 2 ? y0 - 1 : y0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

export type Rejection = { ok: false; code: ErrorCode; reason: string };
export type Validated<T> = { ok: true; value: T } | Rejection;

const envelopeCheck = TypeCompiler.Compile(Envelope);
const dataChecks = new Map<string, TypeCheck<TSchema>>(
  Object.entries(EVENT_DATA).map(([type, schema]) => [type, TypeCompiler.Compile(schema)]),
);
const statusCheck = TypeCompiler.Compile(NodeStatus);
const cmdCheck = TypeCompiler.Compile(NodeCmd);

function firstError(check: TypeCheck<TSchema>, value: unknown, prefix: string): string {
  const e = check.Errors(value).First();
  if (!e) return `${prefix || 'value'} is invalid`;
  const where = (prefix + e.path.replace(/\//g, '.')).replace(/^\./, '') || 'event';
  return `${where}: ${e.message}`;
}

/** Parses JSON text (UTF-8, nested at most MAX_JSON_DEPTH levels); the error says what is wrong. */
export function parseJson(payload: string | Uint8Array): Validated<unknown> {
  return parseJsonText(payload);
}

/** parseJson, with the text it parsed (the trace keeps an event's text as it came: CONTRACT.md "Replay") */
export function parseJsonText(payload: string | Uint8Array): { ok: true; value: unknown; text: string } | Rejection {
  let text: string;
  try {
    text = typeof payload === 'string' ? payload : utf8.decode(payload);
  } catch {
    return { ok: false, code: ErrorCodes.EVENT_JSON, reason: 'payload is not UTF-8 text' };
  }
  if (nestsDeeper(text, MAX_JSON_DEPTH)) {
    return { ok: false, code: ErrorCodes.EVENT_JSON, reason: `payload nests deeper than ${MAX_JSON_DEPTH} levels of objects and arrays` };
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown, text };
  } catch (err) {
    return { ok: false, code: ErrorCodes.EVENT_JSON, reason: `payload is not JSON: ${(err as Error).message}` };
  }
}

export interface ValidateOptions {
  /** the store/node the event arrived under: `source` must name the same (a node publishes only under its own). */
  expect?: { store: string; node: string };
}

/** Validates one CloudEvent against the contract. Never throws. */
export function validateEvent(value: unknown, opts: ValidateOptions = {}): Validated<GwEvent> {
  if (!envelopeCheck.Check(value)) {
    return { ok: false, code: ErrorCodes.EVENT_ENVELOPE, reason: firstError(envelopeCheck, value, '') };
  }
  const env = value;
  // the extensions are times too; senttime feeds the hub's clock estimate
  for (const field of ['time', 'senttime', 'recvtime'] as const) {
    const t = env[field];
    if (t !== undefined && !isRealTime(t)) return { ok: false, code: ErrorCodes.EVENT_ENVELOPE, reason: `${field}: not a real date: ${t}` };
  }
  // 1e308 and 2^53 + 1 are integers to the schema, but not counters: seq arithmetic (gaps, lost events) needs exact integers
  if (!Number.isSafeInteger(env.seq)) {
    return { ok: false, code: ErrorCodes.EVENT_ENVELOPE, reason: `seq: ${env.seq} is not a whole number from 1 to ${Number.MAX_SAFE_INTEGER}` };
  }
  const src = parseSource(env.source);
  if (!src) {
    return { ok: false, code: ErrorCodes.EVENT_SOURCE, reason: `source: expected /stores/{store}/nodes/{node}, got ${JSON.stringify(env.source)}` };
  }
  if (opts.expect && (src.store !== opts.expect.store || src.node !== opts.expect.node)) {
    return {
      ok: false,
      code: ErrorCodes.EVENT_SOURCE,
      reason: `source ${env.source} does not match the topic's store/node ${opts.expect.store}/${opts.expect.node}`,
    };
  }
  const dataCheck = dataChecks.get(env.type);
  if (!dataCheck) {
    return { ok: false, code: ErrorCodes.EVENT_TYPE, reason: `type: unknown event type ${JSON.stringify(env.type)}` };
  }
  if (!dataCheck.Check(env.data)) {
    return { ok: false, code: ErrorCodes.EVENT_DATA, reason: firstError(dataCheck, env.data, 'data') };
  }
  return { ok: true, value: env as GwEvent };
}

/** JSON text → validated event. */
export function decodeEvent(payload: string | Uint8Array, opts: ValidateOptions = {}): Validated<GwEvent> {
  const parsed = parseJson(payload);
  return parsed.ok ? validateEvent(parsed.value, opts) : parsed;
}

export function isEventType(t: string): t is EventType {
  return dataChecks.has(t);
}

export function decodeStatus(payload: string | Uint8Array): Validated<import('./events.ts').NodeStatus> {
  const parsed = parseJson(payload);
  if (!parsed.ok) return parsed;
  return statusCheck.Check(parsed.value)
    ? { ok: true, value: parsed.value }
    : { ok: false, code: ErrorCodes.EVENT_ENVELOPE, reason: firstError(statusCheck, parsed.value, 'status') };
}

export function decodeCmd(payload: string | Uint8Array): Validated<import('./events.ts').NodeCmd> {
  const parsed = parseJson(payload);
  if (!parsed.ok) return parsed;
  return cmdCheck.Check(parsed.value)
    ? { ok: true, value: parsed.value }
    : { ok: false, code: ErrorCodes.EVENT_DATA, reason: firstError(cmdCheck, parsed.value, 'cmd') };
}
