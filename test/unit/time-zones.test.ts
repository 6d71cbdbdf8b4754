import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { databaseRelease, isTimeZone, parsePosixTz, parseTzif, readZoneRules, timeZoneNames, type ZoneRules } from '../../contract/time-zones.ts';
import { storeTimeZone } from '../../hub/engine/store-zone.ts';
import { intlRules } from '../../hub/engine/tz.ts';

// TZDIR lets the suite run against another release of the database
const DB = process.env.TZDIR || '/usr/share/zoneinfo';
const S = 1000;
const H = 3600 * S;

/** UTC offsets in seconds that glibc, reading the same tz database files, gives for `instants` (s). */
function glibcOffsets(zone: string, instants: readonly number[]): number[] {
  const r = spawnSync('date', ['-f', '-', '+%::z'], { input: instants.map((s) => `@${s}`).join('\n'), env: { TZ: zone, TZDIR: DB, LC_ALL: 'C' }, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`date for ${zone}: ${r.stderr}`);
  return r.stdout
    .trim()
    .split('\n')
    .map((z) => {
      const m = /^([+-])(\d\d):(\d\d):(\d\d)$/.exec(z);
      if (!m) throw new Error(`date for ${zone}: ${z}`);
      return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]));
    });
}

/** The last second before `hiS` whose offset differs from the offset at `loS` (rules differ between them). */
function transition(rules: ZoneRules, loS: number, hiS: number): number {
  const at = rules.offsetMs(loS * S);
  while (hiS - loS > 1) {
    const mid = Math.floor((loS + hiS) / 2);
    if (rules.offsetMs(mid * S) === at) loS = mid;
    else hiS = mid;
  }
  return hiS;
}

/** A TZif v2 file (RFC 8536) with the same data in both blocks. */
function tzif(o: { times?: number[]; idx?: number[]; types: Array<[utoff: number, dst: 0 | 1]>; footer?: string; leaps?: number; version?: string }): Buffer {
  const times = o.times ?? [];
  const idx = o.idx ?? [];
  const chars = Buffer.from('LMT\0');
  const block = (size: 4 | 8): Buffer => {
    const h = Buffer.alloc(44);
    h.write('TZif', 0, 'latin1');
    h.write(o.version ?? '2', 4, 'latin1');
    const counts = [0, 0, o.leaps ?? 0, times.length, o.types.length, chars.length];
    counts.forEach((c, i) => h.writeUInt32BE(c, 20 + i * 4));
    const t = Buffer.alloc(times.length * size);
    times.forEach((v, i) => (size === 8 ? t.writeBigInt64BE(BigInt(v), i * 8) : t.writeInt32BE(v, i * 4)));
    const ty = Buffer.alloc(o.types.length * 6);
    o.types.forEach(([off, dst], i) => {
      ty.writeInt32BE(off, i * 6);
      ty[i * 6 + 4] = dst;
    });
    return Buffer.concat([h, t, Buffer.from(idx), ty, chars, Buffer.alloc((o.leaps ?? 0) * (size + 4))]);
  };
  return Buffer.concat([block(4), block(8), Buffer.from(o.footer === undefined ? '' : `\n${o.footer}\n`, 'latin1')]);
}

const STORE_ZONES = ['UTC', 'Europe/Berlin', 'Europe/London', 'America/New_York', 'America/St_Johns', 'America/Sao_Paulo', 'America/Nuuk', 'Australia/Sydney', 'Australia/Lord_Howe', 'Asia/Kolkata', 'Asia/Kathmandu', 'Pacific/Chatham', 'Africa/Casablanca'];

describe('tz database rules', () => {
  it('give the offsets glibc gives, in every zone the database lists, 1880–2100, to the second at each change', () => {
    const zones = timeZoneNames(DB);
    expect(zones?.length).toBeGreaterThan(400);
    const from = Date.UTC(1880, 0, 1) / S;
    const to = Date.UTC(2100, 0, 1) / S;
    // an uneven step, so samples fall at every hour of the day and the week over the years
    const step = 16 * 86_400 + 7 * 3600 + 13 * 60 + 17;
    let compared = 0;
    let changes = 0;
    // aliases are links to a zone's file: read each file once
    const files = new Set<string>();
    for (const zone of zones ?? []) {
      const content = fs.readFileSync(path.join(DB, zone)).toString('base64');
      if (files.has(content)) continue;
      files.add(content);
      const rules = readZoneRules(zone, DB);
      if (!rules) throw new Error(`${zone}: the database lists it but its file does not read`);
      const samples: number[] = [];
      for (let s = from; s < to; s += step) samples.push(s);
      // each change between two samples, to the second: the last second before it and the first after
      const edges: number[] = [];
      for (let i = 1; i < samples.length; i++) {
        const a = samples[i - 1] ?? 0;
        const b = samples[i] ?? 0;
        if (rules.offsetMs(a * S) !== rules.offsetMs(b * S)) {
          const t = transition(rules, a, b);
          edges.push(t - 1, t);
        }
      }
      const instants = [...samples, ...edges];
      const want = glibcOffsets(zone, instants);
      const got = instants.map((s) => rules.offsetMs(s * S) / S);
      const wrong = instants.flatMap((s, i) => (got[i] === want[i] ? [] : [`${new Date(s * S).toISOString()} ${got[i]} ≠ ${want[i]}`]));
      expect(wrong.slice(0, 3), zone).toEqual([]);
      compared += instants.length;
      changes += edges.length / 2;
    }
    expect(compared).toBeGreaterThan(500_000);
    expect(changes).toBeGreaterThan(30_000);
    expect(files.size).toBeGreaterThan(400);
  });

  // ICU carries its own copy of the database, of its own release (process.versions.tz), and
  // releases change rules: 2026b–f keep Vancouver, Edmonton and Winnipeg from falling back on
  // 2026-11-01 and Casablanca at +00 from 2026-09-20, where Node 20's 2025c still changes them;
  // 2025c moved America/Tijuana's 1970s offsets, which 2025b keeps. So this
  // holds the zones a store uses over years whose rules both copies have long settled.
  for (const zone of STORE_ZONES) {
    it(`agree with Intl in ${zone}, 2000–2025, daily and to the second at each change`, () => {
      const file = readZoneRules(zone, DB);
      const intl = intlRules(zone);
      if (!file) throw new Error(`${zone}: no file`);
      const instants: number[] = [];
      const step = 25 * 3600 + 61;
      for (let s = Date.UTC(2000, 0, 1) / S; s < Date.UTC(2026, 0, 1) / S; s += step) {
        instants.push(s);
        if (file.offsetMs(s * S) !== file.offsetMs((s + step) * S)) {
          const t = transition(file, s, s + step);
          instants.push(t - 1, t);
        }
      }
      const wrong = instants.flatMap((s) => (file.offsetMs(s * S) === intl.offsetMs(s * S) ? [] : [`${new Date(s * S).toISOString()} ${file.offsetMs(s * S)} ≠ ${intl.offsetMs(s * S)}`]));
      expect(wrong.slice(0, 3)).toEqual([]);
      expect(instants.length).toBeGreaterThan(9_000);
    });
  }

  it('give store-local time through storeTimeZone: Berlin steps from 02:00 CET to 03:00 CEST at 01:00Z', () => {
    const tz = storeTimeZone('Europe/Berlin', DB);
    expect(tz.parts(Date.parse('2026-03-29T00:59:59.999Z'))).toEqual({ year: 2026, month: 3, day: 29, hour: 1, minute: 59, second: 59, weekday: 6 });
    expect(tz.parts(Date.parse('2026-03-29T01:00:00.000Z'))).toEqual({ year: 2026, month: 3, day: 29, hour: 3, minute: 0, second: 0, weekday: 6 });
    expect(tz.startOfWeek(Date.parse('2026-11-26T12:00:00Z'))).toBe(Date.parse('2026-11-22T23:00:00Z'));
    // Lord Howe moves by half an hour; Kathmandu sits at +05:45
    expect(storeTimeZone('Australia/Lord_Howe', DB).offsetMs(Date.parse('2026-01-15T00:00:00Z'))).toBe(11 * H);
    expect(storeTimeZone('Australia/Lord_Howe', DB).offsetMs(Date.parse('2026-07-15T00:00:00Z'))).toBe(10.5 * H);
    expect(storeTimeZone('Asia/Kathmandu', DB).offsetMs(Date.parse('2026-07-15T00:00:00Z'))).toBe(5.75 * H);
  });
});

describe('TZif footers (POSIX TZ strings)', () => {
  // a "slim" file (zic -b slim) holds no transitions past the present rules, only the footer:
  // built here from a zone's own footer, it must give what the full file gives
  for (const zone of ['Europe/Berlin', 'America/New_York', 'America/Nuuk', 'Australia/Sydney', 'Australia/Lord_Howe', 'Pacific/Chatham', 'America/St_Johns', 'America/Sao_Paulo']) {
    it(`alone give what the full file gives in ${zone}, 2027–2037`, () => {
      const full = fs.readFileSync(path.join(DB, zone));
      const footer = /\n([^\n]+)\n$/.exec(full.toString('latin1'))?.[1];
      if (!footer) throw new Error(`${zone}: no footer`);
      const slim = parseTzif(tzif({ types: [[0, 0]], footer }));
      const fat = parseTzif(full);
      if (!slim || !fat) throw new Error(`${zone}: does not parse`);
      const wrong: string[] = [];
      for (let ms = Date.UTC(2027, 0, 1); ms < Date.UTC(2037, 0, 1); ms += 15 * 60 * S + 7 * S) {
        if (slim.offsetMs(ms) !== fat.offsetMs(ms)) wrong.push(new Date(ms).toISOString());
      }
      expect(wrong.slice(0, 3)).toEqual([]);
    });
  }

  it('read Jn (no Feb 29), zero-based n and rule times past 24 h', () => {
    const offsetAt = (tzString: string, iso: string): number | undefined => parsePosixTz(tzString)?.offsetSec(Date.parse(iso) / S);
    // J60 is 1 March in every year; 02:00 local standard (+01) is 01:00Z
    expect(offsetAt('AAA-1BBB,J60/2,J300/2', '2024-03-01T00:59:59Z')).toBe(3600);
    expect(offsetAt('AAA-1BBB,J60/2,J300/2', '2024-03-01T01:00:00Z')).toBe(7200);
    // n = 59 is 29 February in a leap year and 1 March otherwise
    expect(offsetAt('AAA-1BBB,59/2,299/2', '2024-02-29T01:00:00Z')).toBe(7200);
    expect(offsetAt('AAA-1BBB,59/2,299/2', '2025-02-28T23:00:00Z')).toBe(3600);
    expect(offsetAt('AAA-1BBB,59/2,299/2', '2025-03-01T01:00:00Z')).toBe(7200);
    // 2025-03-01 is a Saturday: M3.1.0/26 is the first Sunday (2 March) at 26:00 = 3 March 02:00
    expect(offsetAt('AAA-1BBB,M3.1.0/26,M10.5.0', '2025-03-03T00:59:59Z')).toBe(3600);
    expect(offsetAt('AAA-1BBB,M3.1.0/26,M10.5.0', '2025-03-03T01:00:00Z')).toBe(7200);
    // an explicit DST offset, and numeric names in <>
    expect(offsetAt('<+0530>-5:30<+0630>-6:30,M3.5.0,M10.5.0', '2025-07-01T00:00:00Z')).toBe(6.5 * 3600);
    expect(offsetAt('<-03>3', '2025-07-01T00:00:00Z')).toBe(-3 * 3600);
  });

  it('refuse what is not a POSIX TZ string', () => {
    for (const s of ['', 'CE-1', 'CET', 'CET-1CEST', 'CET-1CEST,M3.5.0', 'CET-1CEST,M13.5.0,M10.5.0', 'CET-1CEST,M3.6.0,M10.5.0', 'CET-1CEST,M3.5.7,M10.5.0', 'CET-1CEST,J0,J300', 'CET-1CEST,366,300', '<CET-1', 'CET-1CEST,M3.5.0,M10.5.0/3x']) {
      expect(parsePosixTz(s), s).toBeUndefined();
    }
  });
});

describe('TZif files', () => {
  it('use the first local time type before the first transition and the last after it, without a footer', () => {
    const rules = parseTzif(tzif({ times: [1_000_000], idx: [1], types: [[3600, 0], [7200, 1]] }));
    expect(rules?.offsetMs(999_999 * S)).toBe(3600 * S);
    expect(rules?.offsetMs(1_000_000 * S)).toBe(7200 * S);
    expect(rules?.offsetMs(9e12)).toBe(7200 * S);
    expect(parseTzif(tzif({ types: [[-3 * 3600, 0]] }))?.offsetMs(0)).toBe(-3 * H);
    expect(parseTzif(tzif({ types: [[19800, 0]], version: '\0' }))?.offsetMs(0)).toBe(19800 * S);
  });

  it('refuse what is not a TZif file this reader can trust', () => {
    const good = fs.readFileSync(path.join(DB, 'Europe/Berlin'));
    expect(parseTzif(good)).toBeDefined();
    const refused = {
      empty: Buffer.alloc(0),
      'not TZif': Buffer.from('#!/bin/sh\n'.padEnd(200, ' ')),
      'cut short': good.subarray(0, Math.floor(good.length / 2)),
      'cut in the v1 block': good.subarray(0, 60),
      'bad version': tzif({ types: [[0, 0]], version: 'x' }),
      'no local time types': tzif({ types: [] }),
      'leap seconds (right/ zones)': tzif({ types: [[0, 0]], leaps: 1 }),
      'a type index past the types': tzif({ times: [0], idx: [5], types: [[0, 0]] }),
      'a broken footer': tzif({ types: [[0, 0]], footer: 'CET-1CEST' }),
    };
    for (const [what, buf] of Object.entries(refused)) expect(parseTzif(buf), what).toBeUndefined();
  });
});

describe('zone names', () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-tzdir-'));
  afterAll(() => fs.rmSync(empty, { recursive: true, force: true }));

  it('are paths under the database and nothing else', () => {
    for (const name of ['../../etc/passwd', '/etc/localtime', 'Europe/../../../etc/passwd', 'Europe//Berlin', '', 'Europe/Berlin\0']) {
      expect(readZoneRules(name, DB), JSON.stringify(name)).toBeUndefined();
      expect(isTimeZone(name, DB), JSON.stringify(name)).toBe(false);
    }
  });

  it('are the zones and aliases the database lists: files that are not zones are refused', () => {
    for (const name of ['UTC', 'Etc/UTC', 'Europe/Berlin', 'US/Eastern', 'America/Argentina/Buenos_Aires']) expect(isTimeZone(name, DB), name).toBe(true);
    for (const name of ['Factory', 'posixrules', 'localtime', 'posix/Europe/Berlin', 'right/UTC', 'zone.tab', 'tzdata.zi', 'Europe/Berln', 'Mars/Olympus_Mons']) {
      expect(isTimeZone(name, DB), name).toBe(false);
    }
  });

  it('fall back to Intl where the database is missing, and unknown zones still throw', () => {
    expect(timeZoneNames(empty)).toBeUndefined();
    expect(databaseRelease(empty)).toBeUndefined();
    expect(databaseRelease(DB)).toMatch(/^\d{4}[a-z]$/);
    expect(readZoneRules('Europe/Berlin', empty)).toBeUndefined();
    expect(isTimeZone('Europe/Berlin', empty)).toBe(true);
    expect(isTimeZone('Europe/Berln', empty)).toBe(false);
    const tz = storeTimeZone('Europe/Berlin', empty);
    expect(tz.offsetMs(Date.parse('2026-07-01T00:00:00Z'))).toBe(2 * H);
    expect(tz.source).toBe(`Intl (tz ${process.versions.tz})`);
    expect(storeTimeZone('Europe/Berlin', DB).source).toMatch(/^\/.*\/Europe\/Berlin \(tzdata \d{4}[a-z]\)$/);
    expect(() => storeTimeZone('Europe/Berln', empty)).toThrow(RangeError);
    expect(() => storeTimeZone('Europe/Berln', DB)).toThrow(RangeError);
  });
});
