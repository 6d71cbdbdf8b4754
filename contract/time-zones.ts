// IANA time zone rules read from the system's tz database (TZif files, RFC 8536), the files
// glibc and Python's zoneinfo read too. Store-local time (CONTRACT.md "Metrics") needs only a
// zone's UTC offset at an instant; asking ICU for it (Intl.DateTimeFormat) maps about 8 MB of
// its data and code into the hub for good, a tenth of the idle hub (README "Performance").
// Not exported from index.ts: it reads files, and the dashboard imports the contract too.
import fs from 'node:fs';
import path from 'node:path';

/** UTC offset (local − UTC) of a zone at an instant, both in ms. */
export interface ZoneRules {
  offsetMs(ms: number): number;
  /** where the rules come from, for logs: a file and its database's release, or Intl's */
  source?: string;
}

const DEFAULT_DIR = '/usr/share/zoneinfo';
// zone names are paths under the database: no '..', no absolute paths, nothing but name characters
const ZONE_NAME = /^[A-Za-z0-9_+-]+(?:\/[A-Za-z0-9_+-]+)*$/;

/**
 * The rules of `name` from the tz database in `dir` (`TZDIR`, else /usr/share/zoneinfo), or
 * undefined where the file is missing or is not a TZif file this reader understands (then
 * callers use Intl, which knows the same zones).
 */
export function readZoneRules(name: string, dir = process.env.TZDIR || DEFAULT_DIR): ZoneRules | undefined {
  if (!ZONE_NAME.test(name)) return undefined;
  let buf: Buffer;
  const file = path.join(dir, name);
  try {
    buf = fs.readFileSync(file);
  } catch {
    return undefined;
  }
  const rules = parseTzif(buf);
  if (!rules) return undefined;
  const release = databaseRelease(dir);
  rules.source = release ? `${file} (tzdata ${release})` : file;
  return rules;
}

/** The release of the tz database in `dir` ("2025b"), from tzdata.zi's first line, if it has one. */
export function databaseRelease(dir = process.env.TZDIR || DEFAULT_DIR): string | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(path.join(dir, 'tzdata.zi'), 'r');
    const head = Buffer.alloc(64);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    return /^# version (\S+)/.exec(head.toString('latin1', 0, n))?.[1];
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * The zone names of the tz database in `dir`, from its own list (tzdata.zi: `Z` lines name
 * zones, `L` lines their aliases), or undefined where the database ships no list. Factory is
 * left out: it is tzdata's "no zone set" placeholder, and Intl refuses it.
 */
export function timeZoneNames(dir = process.env.TZDIR || DEFAULT_DIR): string[] | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, 'tzdata.zi'), 'utf8');
  } catch {
    return undefined;
  }
  const names: string[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const name = f[0] === 'Z' ? f[1] : f[0] === 'L' ? f[2] : undefined;
    if (name && name !== 'Factory' && ZONE_NAME.test(name)) names.push(name);
  }
  return names.length > 0 ? names : undefined;
}

/**
 * Whether `name` is a zone: one the tz database lists and has rules for, or, where the
 * database ships no list, one Intl knows. The list keeps out files that are not zones
 * (posixrules, localtime, posix/…), which the dashboard's Intl would refuse.
 */
export function isTimeZone(name: string, dir?: string): boolean {
  const names = timeZoneNames(dir);
  if (names) return names.includes(name) && readZoneRules(name, dir) !== undefined;
  try {
    new Intl.DateTimeFormat(undefined, { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** A TZif file's rules; undefined for what is not TZif, or carries leap seconds ("right/" zones). */
export function parseTzif(buf: Buffer): ZoneRules | undefined {
  const v1 = header(buf, 0);
  if (!v1) return undefined;
  let at = 44;
  let h = v1;
  let timeSize = 4;
  if (v1.version >= 2) {
    // skip the 32-bit block: the 64-bit one after it holds the same data, and the footer
    at += v1.timecnt * 5 + v1.typecnt * 6 + v1.charcnt + v1.leapcnt * 8 + v1.isstdcnt + v1.isutcnt;
    const v2 = header(buf, at);
    if (!v2) return undefined;
    h = v2;
    at += 44;
    timeSize = 8;
  }
  if (h.leapcnt > 0 || h.typecnt === 0) return undefined;
  const end = at + h.timecnt * (timeSize + 1) + h.typecnt * 6 + h.charcnt + h.leapcnt * (timeSize + 4) + h.isstdcnt + h.isutcnt;
  if (end > buf.length) return undefined;
  const times = new Float64Array(h.timecnt);
  for (let i = 0; i < h.timecnt; i++) {
    times[i] = timeSize === 8 ? Number(buf.readBigInt64BE(at + i * 8)) : buf.readInt32BE(at + i * 4);
  }
  at += h.timecnt * timeSize;
  const idx = buf.subarray(at, at + h.timecnt);
  at += h.timecnt;
  const utoff = new Int32Array(h.typecnt);
  for (let i = 0; i < h.typecnt; i++) utoff[i] = buf.readInt32BE(at + i * 6);
  const offsets = new Int32Array(h.timecnt);
  for (let i = 0; i < h.timecnt; i++) {
    const t = idx[i] ?? 0;
    if (t >= h.typecnt) return undefined;
    offsets[i] = utoff[t] ?? 0;
  }
  let footer: PosixTz | undefined;
  if (h.version >= 2) {
    const text = buf.subarray(end).toString('latin1');
    const m = /^\n([^\n]*)\n/.exec(text);
    if (m?.[1]) {
      footer = parsePosixTz(m[1]);
      if (!footer) return undefined;
    }
  }
  // RFC 8536 3.2: before the first transition, local time type 0
  const first = utoff[0] ?? 0;
  return {
    offsetMs(ms: number): number {
      const s = Math.floor(ms / 1000);
      const n = times.length;
      if (n === 0 || s >= (times[n - 1] ?? 0)) {
        if (footer) return footer.offsetSec(s) * 1000;
        return (n === 0 ? first : (offsets[n - 1] ?? 0)) * 1000;
      }
      if (s < (times[0] ?? 0)) return first * 1000;
      let lo = 0;
      let hi = n - 1;
      // last transition at or before s
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if ((times[mid] ?? 0) <= s) lo = mid;
        else hi = mid - 1;
      }
      return (offsets[lo] ?? 0) * 1000;
    },
  };
}

interface Header {
  version: number;
  isutcnt: number;
  isstdcnt: number;
  leapcnt: number;
  timecnt: number;
  typecnt: number;
  charcnt: number;
}

function header(buf: Buffer, at: number): Header | undefined {
  if (buf.length < at + 44 || buf.toString('latin1', at, at + 4) !== 'TZif') return undefined;
  const v = buf[at + 4] ?? 0;
  const version = v === 0 ? 1 : v - 0x30;
  if (version < 1 || version > 9) return undefined;
  const c = (i: number): number => buf.readUInt32BE(at + 20 + i * 4);
  return { version, isutcnt: c(0), isstdcnt: c(1), leapcnt: c(2), timecnt: c(3), typecnt: c(4), charcnt: c(5) };
}

/** A POSIX TZ string as TZif footers carry it (RFC 8536 3.3), e.g. `CET-1CEST,M3.5.0,M10.5.0/3`. */
interface PosixTz {
  offsetSec(utcSec: number): number;
}

interface DateRule {
  kind: 'J' | 'n' | 'M';
  a: number;
  b: number;
  c: number;
  /** seconds after local midnight, may be negative or past 24 h (RFC 8536 3.3.1) */
  time: number;
}

export function parsePosixTz(s: string): PosixTz | undefined {
  let i = 0;
  const name = (): boolean => {
    if (s[i] === '<') {
      const close = s.indexOf('>', i);
      if (close < 0) return false;
      i = close + 1;
      return true;
    }
    const start = i;
    while (i < s.length && /[A-Za-z]/.test(s[i] ?? '')) i++;
    return i - start >= 3;
  };
  // [+-]hh[:mm[:ss]] in seconds; hours up to 167 as RFC 8536 allows for rule times
  const hms = (): number | undefined => {
    const m = /^([+-]?)(\d{1,3})(?::(\d{1,2}))?(?::(\d{1,2}))?/.exec(s.slice(i));
    if (!m) return undefined;
    i += m[0].length;
    const v = Number(m[2]) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
    return m[1] === '-' ? -v : v;
  };
  if (!name()) return undefined;
  const stdWest = hms();
  if (stdWest === undefined) return undefined;
  const std = -stdWest;
  if (i === s.length) return { offsetSec: () => std };
  if (!name()) return undefined;
  let dst = std + 3600;
  if (s[i] !== ',' && i < s.length) {
    const w = hms();
    if (w === undefined) return undefined;
    dst = -w;
  }
  // DST without a rule is left to the implementation by POSIX; tzdata always writes one
  if (s[i] !== ',') return undefined;
  i++;
  const rule = (): DateRule | undefined => {
    let r: DateRule;
    const mM = /^M(\d{1,2})\.(\d)\.(\d)/.exec(s.slice(i));
    const mJ = /^J(\d{1,3})/.exec(s.slice(i));
    const mn = /^(\d{1,3})/.exec(s.slice(i));
    if (mM) {
      r = { kind: 'M', a: Number(mM[1]), b: Number(mM[2]), c: Number(mM[3]), time: 7200 };
      if (r.a < 1 || r.a > 12 || r.b < 1 || r.b > 5 || r.c > 6) return undefined;
      i += mM[0].length;
    } else if (mJ) {
      r = { kind: 'J', a: Number(mJ[1]), b: 0, c: 0, time: 7200 };
      if (r.a < 1 || r.a > 365) return undefined;
      i += mJ[0].length;
    } else if (mn) {
      r = { kind: 'n', a: Number(mn[1]), b: 0, c: 0, time: 7200 };
      if (r.a > 365) return undefined;
      i += mn[0].length;
    } else return undefined;
    if (s[i] === '/') {
      i++;
      const t = hms();
      if (t === undefined) return undefined;
      r.time = t;
    }
    return r;
  };
  const start = rule();
  if (!start || s[i] !== ',') return undefined;
  i++;
  const end = rule();
  if (!end || i !== s.length) return undefined;
  return {
    offsetSec(utcSec: number): number {
      // the rules are in local time within a year: take the year of standard local time
      const year = new Date((utcSec + std) * 1000).getUTCFullYear();
      const on = ruleDay(start, year) * 86_400 + start.time - std;
      const off = ruleDay(end, year) * 86_400 + end.time - dst;
      const inDst = on < off ? utcSec >= on && utcSec < off : utcSec < off || utcSec >= on;
      return inDst ? dst : std;
    },
  };
}

/** Days since 1970-01-01 of the local date a rule names in `year`. */
function ruleDay(r: DateRule, year: number): number {
  const jan1 = Date.UTC(year, 0, 1) / 86_400_000;
  if (r.kind === 'n') return jan1 + r.a;
  if (r.kind === 'J') {
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    // Jn counts 1–365 and never Feb 29
    return jan1 + r.a - 1 + (leap && r.a >= 60 ? 1 : 0);
  }
  const first = Date.UTC(year, r.a - 1, 1) / 86_400_000;
  // 1970-01-01 was a Thursday (4 when Sunday is 0)
  const wd = (((first + 4) % 7) + 7) % 7;
  let day = first + ((r.c - wd + 7) % 7) + (r.b - 1) * 7;
  const next = Date.UTC(year, r.a, 1) / 86_400_000;
  while (day >= next) day -= 7;
  return day;
}
