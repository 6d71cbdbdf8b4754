import { escape, FieldType, type InfluxDB, type IPoint, type ISchemaOptions } from 'influx';
import { M } from './schema.ts';

// A history point is encoded once, when it is recorded: the spool keeps the line-protocol
// line and a drain sends the lines as they are, so a batch of thousands of points costs a
// join, not a second schema pass and a JSON round trip on the hub's event loop.

/**
 * `s` as one string: V8 keeps a concatenation as a tree of its pieces (about 1,100 bytes for a
 * 190-character event line, against about 220 once flat), and a line waits in the batch and
 * the spool until InfluxDB has it, through many young-generation collections. Reading a
 * character makes V8 flatten it; the pieces are garbage at once. (Joining an array of the
 * pieces gives a flat string too, at about 0.3 µs more per line.)
 */
function flat(s: string): string {
  s.charCodeAt(0);
  return s;
}

/**
 * One point as the line `InfluxDB#writePoints` would send for it: the schema's coercion
 * (`parsePoint`, which throws on a field of the wrong type or an unknown tag), then the
 * library's own escaping.
 */
export function toLine(influx: InfluxDB, point: IPoint): string {
  const { measurement, tags, fieldsPairs, tagsNames, castedTimestamp } = influx.parsePoint(point, { precision: 'n' });
  let line = escape.measurement(measurement ?? '');
  for (const name of tagsNames) line += `,${escape.tag(name)}=${escape.tag(tags?.[name] ?? '')}`;
  for (let i = 0; i < fieldsPairs.length; i++) {
    const [k, v] = fieldsPairs[i]!;
    line += `${i === 0 ? ' ' : ','}${escape.tag(k)}=${v}`;
  }
  if (castedTimestamp !== undefined) line += ` ${castedTimestamp}`;
  return flat(line);
}

/** what the client's escapers would change (a backslash too: its quirk for `\\'`) */
const TAG_SPECIAL = /[,= \\]/;
const STRING_SPECIAL = /["\\]/;
const DIGITS = /^\d+$/;

interface Compiled {
  /** the schema's tag keys that need no escaping (any other key goes through toLine) */
  tags: ReadonlySet<string>;
  /** sorted by name, as the client writes them: name, escaped key, type */
  fields: ReadonlyArray<readonly [string, string, FieldType]>;
}

/**
 * `toLine` for a schema, with a fast path for the points history writes all day (plain ids,
 * ISO times, finite numbers): the same line, built without the client's per-field regex
 * passes. Anything the fast path would have to escape or coerce goes through `toLine`, so the
 * output is the client's by construction (test/unit/history-line-protocol.test.ts).
 */
export function lineEncoder(influx: InfluxDB, schema: readonly ISchemaOptions[]): (point: IPoint) => string {
  const compiled = new Map<string, Compiled>();
  for (const m of schema) {
    if (escape.measurement(m.measurement) !== m.measurement) continue;
    const names = Object.keys(m.fields).sort();
    compiled.set(m.measurement, { tags: new Set(m.tags.filter((t) => !TAG_SPECIAL.test(t))), fields: names.map((n) => [n, escape.tag(n), m.fields[n]!] as const) });
  }
  const fast = (p: IPoint): string | null => {
    const c = p.measurement === undefined ? undefined : compiled.get(p.measurement);
    const ts = p.timestamp;
    if (!c || typeof ts !== 'string' || !DIGITS.test(ts)) return null;
    let line: string = p.measurement!;
    const tags = p.tags ?? {};
    for (const k of Object.keys(tags)) {
      const v = tags[k]!;
      if (!c.tags.has(k) || typeof v !== 'string' || TAG_SPECIAL.test(v)) return null;
      line += `,${k}=${v}`;
    }
    const f = (p.fields ?? {}) as Record<string, unknown>;
    let used = 0;
    let sep = ' ';
    for (const [name, key, type] of c.fields) {
      if (!Object.hasOwn(f, name)) continue;
      used++;
      const v = f[name];
      if (v === null || v === undefined) continue;
      let out: string;
      switch (type) {
        case FieldType.STRING:
          if (typeof v !== 'string' || STRING_SPECIAL.test(v)) return null;
          out = `"${v}"`;
          break;
        case FieldType.INTEGER:
          if (typeof v !== 'number' || !Number.isFinite(v)) return null;
          out = `${Math.floor(v)}i`;
          break;
        case FieldType.FLOAT:
          if (typeof v !== 'number' || !Number.isFinite(v)) return null;
          out = String(v);
          break;
        case FieldType.BOOLEAN:
          if (typeof v !== 'boolean') return null;
          out = v ? 'T' : 'F';
          break;
        default:
          return null;
      }
      line += `${sep}${key}=${out}`;
      sep = ',';
    }
    // a field the schema does not know: the client's error
    if (used !== Object.keys(f).length) return null;
    return flat(`${line} ${ts}`);
  };
  return (p) => fast(p) ?? toLine(influx, p);
}

/** a spool line written before points were spooled as lines: the point as JSON */
export const isLegacyLine = (line: string): boolean => line.startsWith('{');

const VISIT_LINE = new RegExp(`^${M.visit},store=([^ ,\\\\]+)[ ,].* (-?\\d+)$`);

/**
 * The store and entry time (ms) of a visit line, for the rollups it dirties; null for any
 * other measurement. Store ids need no escaping (contract ids), and the time is the line's
 * last word, whatever its string fields hold.
 */
export function visitLineKey(line: string): { store: string; ms: number } | null {
  if (!line.startsWith(`${M.visit},`)) return null;
  const m = VISIT_LINE.exec(line);
  if (!m) return null;
  return { store: m[1]!, ms: Number(BigInt(m[2]!) / 1_000_000n) };
}
