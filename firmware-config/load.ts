import { readFileSync } from 'node:fs';
import damerauLevenshtein from 'damerau-levenshtein';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { KindGuard, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import { ErrorCodes, GwError, type ErrorCode } from '../contract/errors.ts';
import { ID_PATTERN } from '../contract/ids.ts';
import { StoreConfig, WEEKDAYS } from './schema.ts';

// Loads a store config (YAML or JSON) and reports every problem ESPHome-style:
//   demo.yaml:23 nodes[1].sensors[0].kind: 'beem-pair' is not one of 'beam-pair', 'door', …; did you mean 'beam-pair'?
// The schema (schema.ts) stays the single source of truth: the walker below reads its
// properties, unions and constraints instead of restating them.

export interface ConfigIssue {
  file: string;
  /** 1-based; 0 when the problem has no line (file cannot be read) */
  line: number;
  /** e.g. `nodes[1].sensors[0].kind`; '' for the whole file */
  path: string;
  message: string;
  /** warnings never make a config invalid; they are reported next to errors */
  severity: 'error' | 'warning';
}

export class ConfigError extends GwError {
  readonly issues: readonly ConfigIssue[];
  constructor(code: ErrorCode, issues: readonly ConfigIssue[]) {
    super(code, issues.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export interface ParseOptions {
  /** called for each warning of a config that is otherwise valid */
  onWarning?: (issue: ConfigIssue) => void;
}

/** `file:line path: message`; no line part when line is 0, no path part when path is ''. */
export function formatIssue(i: ConfigIssue): string {
  const where = i.line > 0 ? `${i.file}:${i.line}` : i.file;
  const path = i.path ? ` ${i.path}` : '';
  const sev = i.severity === 'warning' ? 'warning: ' : '';
  return `${where}${path}: ${sev}${i.message}`;
}

export function loadConfig(file: string, opts: ParseOptions = {}): StoreConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const reason = err instanceof Error && 'code' in err ? `${String(err.code)}` : String(err);
    const why = reason === 'ENOENT' ? 'no such file' : reason === 'EISDIR' ? 'is a directory' : reason;
    throw new ConfigError(ErrorCodes.CONFIG_PARSE, [
      { file, line: 0, path: '', message: `cannot read config file (${why})`, severity: 'error' },
    ]);
  }
  return parseConfig(text, file, opts);
}

export function parseConfig(text: string, file: string, opts: ParseOptions = {}): StoreConfig {
  const lc = new LineCounter();
  // prettyErrors off: we format positions ourselves, one line per problem
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  const lineAt = (offset: number | undefined) => (offset === undefined ? 1 : lc.linePos(offset).line);
  const colAt = (offset: number | undefined) => (offset === undefined ? 1 : lc.linePos(offset).col);

  if (doc.errors.length > 0) {
    const issues = doc.errors.map<ConfigIssue>((e) => ({
      file,
      line: lineAt(e.pos[0]),
      path: '',
      message: `invalid YAML: ${e.message}`,
      severity: 'error',
    }));
    throw new ConfigError(ErrorCodes.CONFIG_PARSE, sortIssues(issues));
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    // unresolved aliases and alias bombs surface only here
    const message = err instanceof Error ? err.message : String(err);
    throw new ConfigError(ErrorCodes.CONFIG_PARSE, [
      { file, line: 1, path: '', message: `invalid YAML: ${message}`, severity: 'error' },
    ]);
  }

  const found: Array<ConfigIssue & { col: number }> = [];
  const add: Add = (path, message, at = 'value', severity = 'error') => {
    const off = offsetOf(doc, path, at);
    found.push({ file, line: lineAt(off), col: colAt(off), path: formatPath(path), message, severity });
  };
  for (const w of doc.warnings) {
    const off = w.pos[0];
    found.push({ file, line: lineAt(off), col: colAt(off), path: '', message: `YAML: ${w.message}`, severity: 'warning' });
  }

  if (raw === null || raw === undefined) {
    add([], 'the file is empty; expected a mapping with store, rules, staff, nodes and hub');
    throw new ConfigError(ErrorCodes.CONFIG_INVALID, stripCols(found));
  }

  // The walker reads what the file says. Value.Default must not run first: it merges a
  // mapping into a list default (`sensors: {a: 1}` would become `[]` and pass Check).
  dropEmpty(StoreConfig, raw);
  walk(StoreConfig, raw, [], add);
  const warnAtSet = isObj(raw) && isObj(raw.rules) && raw.rules.warnAtS !== undefined;
  const cfg: unknown = Value.Default(StoreConfig, structuredClone(raw));
  crossCheck(cfg, add, (path) => lineAt(offsetOf(doc, path, 'value')), warnAtSet);

  const hasErrors = () => found.some((i) => i.severity === 'error');
  // Safety net: whatever the walker does not understand, TypeBox still rejects.
  if (!hasErrors() && !Value.Check(StoreConfig, cfg)) {
    for (const e of Value.Errors(StoreConfig, cfg)) add(pointerToPath(e.path), leafMessage(e));
  }
  const issues = stripCols(dedupe(found));
  if (hasErrors() || !Value.Check(StoreConfig, cfg)) throw new ConfigError(ErrorCodes.CONFIG_INVALID, issues);
  for (const w of issues) opts.onWarning?.(w);
  return cfg;
}

// ---------------------------------------------------------------------------
// Paths and lines

type Seg = string | number;
type Path = readonly Seg[];
/** key: point at the key itself (unknown key); value: at the value; a missing key points at its parent. */
type At = 'key' | 'value';
type Add = (path: Path, message: string, at?: At, severity?: ConfigIssue['severity']) => void;

export function formatPath(path: Path): string {
  let s = '';
  for (const seg of path) {
    if (typeof seg === 'number') s += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(seg)) s += s ? `.${seg}` : seg;
    else s += `[${JSON.stringify(seg)}]`;
  }
  return s;
}

/** Source offset of the deepest YAML node along `path` (falls back to the nearest ancestor). */
function offsetOf(doc: Document, path: Path, at: At): number | undefined {
  let node: unknown = doc.contents;
  let best: number | undefined = rangeStart(node);
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    if (isAlias(node)) node = node.resolve(doc) ?? node;
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) return best;
      const keyStart = rangeStart(pair.key);
      if (i === path.length - 1 && at === 'key') return keyStart ?? best;
      node = pair.value;
      best = rangeStart(node) ?? keyStart ?? best;
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
      if (node === undefined) return best;
      best = rangeStart(node) ?? best;
    } else {
      return best;
    }
  }
  return best;
}

function rangeStart(node: unknown): number | undefined {
  if (typeof node !== 'object' || node === null || !('range' in node)) return undefined;
  const range: unknown = node.range;
  return Array.isArray(range) && typeof range[0] === 'number' ? range[0] : undefined;
}

function pointerToPath(pointer: string): Seg[] {
  if (pointer === '') return [];
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function sortIssues<T extends ConfigIssue & { col?: number }>(issues: T[]): T[] {
  // stable: same line keeps discovery order (schema before cross-field checks)
  return [...issues].sort((a, b) => a.line - b.line || (a.col ?? 0) - (b.col ?? 0));
}

function stripCols(issues: Array<ConfigIssue & { col: number }>): ConfigIssue[] {
  return sortIssues(issues).map(({ col: _col, ...rest }) => rest);
}

function dedupe<T extends ConfigIssue>(issues: T[]): T[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = `${i.line}\0${i.path}\0${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

// ---------------------------------------------------------------------------
// Schema walker: structural errors with readable messages, all of them

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function walk(schema: TSchema, value: unknown, path: Path, add: Add): void {
  if (KindGuard.IsObject(schema)) {
    if (!isObj(value)) return add(path, `expected a mapping, got ${describe(value)}`);
    const known = Object.keys(schema.properties);
    const required = new Set(schema.required ?? []);
    for (const key of known) {
      const sub = schema.properties[key]!;
      if (value[key] === undefined) {
        // a key with a default is optional: Value.Default fills it
        if (required.has(key) && !('default' in sub)) add([...path, key], `required key '${key}' is missing`);
        continue;
      }
      walk(sub, value[key], [...path, key], add);
    }
    if (schema.additionalProperties === false) {
      for (const key of Object.keys(value)) {
        if (known.includes(key)) continue;
        const hint = didYouMean(key, known);
        add([...path, key], `unknown key '${key}'${hint || ` (valid keys: ${known.join(', ')})`}`, 'key');
      }
    }
    return;
  }
  if (KindGuard.IsArray(schema)) {
    if (!Array.isArray(value)) return add(path, `expected a list, got ${describe(value)}`);
    value.forEach((item, i) => walk(schema.items, item, [...path, i], add));
    return;
  }
  if (KindGuard.IsUnion(schema)) return walkUnion(schema.anyOf, value, path, add);
  if (KindGuard.IsLiteral(schema)) return walkUnion([schema], value, path, add);
  const first = Value.Errors(schema, value).First();
  if (first) add(path, leafMessage(first));
}

/**
 * `rules:` with every line commented out parses as null; treat it like a missing key
 * (where a missing key is allowed) instead of "expected a mapping, got null".
 */
function dropEmpty(schema: TSchema, value: unknown): void {
  if (KindGuard.IsObject(schema) && isObj(value)) {
    const required = new Set(schema.required ?? []);
    for (const [key, sub] of Object.entries(schema.properties)) {
      if (value[key] === null && (!required.has(key) || 'default' in sub)) delete value[key];
      else dropEmpty(sub, value[key]);
    }
  } else if (KindGuard.IsArray(schema) && Array.isArray(value)) {
    for (const item of value) dropEmpty(schema.items, item);
  } else if (KindGuard.IsUnion(schema) && isObj(value)) {
    const tag = discriminator(schema.anyOf);
    const match = tag && schema.anyOf.find((v) => Value.Check(propOf(v, tag)!, value[tag]));
    if (match) dropEmpty(match, value);
  }
}

function walkUnion(variants: TSchema[], value: unknown, path: Path, add: Add): void {
  const literals = literalsOf(variants);
  if (literals) {
    if (literals.includes(value as string | number | boolean)) return;
    return add(path, notOneOf(value, literals));
  }
  // Object variants told apart by a literal property (sensors: `kind`).
  const tag = discriminator(variants);
  if (tag) {
    if (!isObj(value)) return add(path, `expected a mapping, got ${describe(value)}`);
    const all = variants.flatMap((v) => literalsOf([propOf(v, tag)!]) ?? []);
    if (value[tag] === undefined) {
      return add([...path, tag], `required key '${tag}' is missing (one of ${all.map(q).join(', ')})`);
    }
    const match = variants.find((v) => Value.Check(propOf(v, tag)!, value[tag]));
    if (!match) return add([...path, tag], notOneOf(value[tag], all));
    return walk(match, value, path, add);
  }
  if (variants.some((v) => Value.Check(v, value))) return;
  const first = Value.Errors(variants[0]!, value).First();
  add(path, first ? leafMessage(first) : `does not match any allowed form`);
}

type Lit = string | number | boolean;
function literalsOf(variants: TSchema[]): Lit[] | undefined {
  const out: Lit[] = [];
  for (const v of variants) {
    if (KindGuard.IsLiteral(v)) out.push(v.const);
    else if (KindGuard.IsUnion(v)) {
      const inner = literalsOf(v.anyOf);
      if (!inner) return undefined;
      out.push(...inner);
    } else return undefined;
  }
  return out;
}

function propOf(schema: TSchema, key: string): TSchema | undefined {
  return KindGuard.IsObject(schema) ? schema.properties[key] : undefined;
}

function discriminator(variants: TSchema[]): string | undefined {
  const first = variants[0];
  if (!first || !KindGuard.IsObject(first)) return undefined;
  return Object.keys(first.properties).find((key) =>
    variants.every((v) => {
      const p = propOf(v, key);
      return p !== undefined && literalsOf([p]) !== undefined;
    }),
  );
}

const q = (v: unknown) => (typeof v === 'string' ? `'${v}'` : String(v));

function notOneOf(value: unknown, allowed: Lit[]): string {
  const strs = allowed.filter((a): a is string => typeof a === 'string');
  const hint = typeof value === 'string' ? didYouMean(value, strs) : '';
  return `${typeof value === 'string' ? q(value) : describe(value)} is not one of ${allowed.map(q).join(', ')}${hint}`;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `string '${v}'`;
  return `${typeof v} ${String(v)}`;
}

function leafMessage(e: ValueError): string {
  const s = e.schema as TSchema & Record<string, unknown>;
  const v = e.value;
  switch (e.type) {
    case ValueErrorType.String:
      return `expected a string, got ${describe(v)}`;
    case ValueErrorType.Number:
      return `expected a number, got ${describe(v)}`;
    case ValueErrorType.Integer:
      return `expected an integer, got ${describe(v)}`;
    case ValueErrorType.NumberMinimum:
    case ValueErrorType.IntegerMinimum:
      return `must be at least ${String(s.minimum)}, got ${String(v)}`;
    case ValueErrorType.NumberMaximum:
    case ValueErrorType.IntegerMaximum:
      return `must be at most ${String(s.maximum)}, got ${String(v)}`;
    case ValueErrorType.StringMinLength:
      return `must be at least ${String(s.minLength)} characters long`;
    case ValueErrorType.StringPattern:
      if (s.pattern === ID_PATTERN) {
        return `'${String(v)}' is not a valid id (lowercase letters, digits and '-', starting with a letter or digit, at most 32 characters)`;
      }
      return typeof s.description === 'string'
        ? `'${String(v)}' is not valid: expected ${s.description}`
        : `'${String(v)}' does not match ${String(s.pattern)}`;
    case ValueErrorType.ObjectRequiredProperty:
      return 'required key is missing';
    case ValueErrorType.ObjectAdditionalProperties:
      return 'unknown key';
    default:
      return e.message;
  }
}

// ---------------------------------------------------------------------------
// Did you mean

/** Edit distance where swapping two neighbours also counts as one edit (a common typo). */
export function levenshtein(a: string, b: string): number {
  return damerauLevenshtein(a, b).steps;
}

/** `; did you mean 'x'?` for the closest candidate within a third of the length, else ''. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    // case is a cheap mistake: GreetWithinS is one edit from greetWithinS either way
    const d = levenshtein(word.toLowerCase(), c.toLowerCase()) + (word === c ? 0 : word.toLowerCase() === c.toLowerCase() ? 0.5 : 0);
    if (d < bestD) [best, bestD] = [c, d];
  }
  const limit = Math.max(1, Math.floor(Math.max(word.length, best?.length ?? 0) / 3));
  return best !== undefined && bestD <= limit ? `; did you mean '${best}'?` : '';
}

// ---------------------------------------------------------------------------
// Cross-field checks. They run on the defaulted but possibly invalid value, so every
// access is guarded: a broken sensor must not hide a duplicate id elsewhere.

const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : undefined);

type LineOf = (path: Path) => number;

function crossCheck(cfg: unknown, add: Add, lineOf: LineOf, warnAtSet: boolean): void {
  if (!isObj(cfg)) return;
  const store = isObj(cfg.store) ? cfg.store : {};
  const rules = isObj(cfg.rules) ? cfg.rules : {};

  const tz = str(store.timezone);
  if (tz !== undefined && !isTimeZone(tz)) {
    add(['store', 'timezone'], `'${tz}' is not a valid IANA time zone${didYouMean(tz, timeZones())}`);
  }
  if (isObj(store.openingHours)) {
    for (const day of WEEKDAYS) {
      const m = /^(\d\d):(\d\d)-(\d\d):(\d\d)$/.exec(str(store.openingHours[day]) ?? '');
      if (!m) continue;
      const [open, close] = [Number(m[1]) * 60 + Number(m[2]), Number(m[3]) * 60 + Number(m[4])];
      if (close <= open) {
        add(
          ['store', 'openingHours', day],
          `closing time ${m[3]}:${m[4]} is not after opening time ${m[1]}:${m[2]} (hours past midnight are not supported; use 24:00)`,
        );
      }
    }
  }

  const staffIds = new Set<string>();
  const staffSeen = new Map<string, Path>();
  list(cfg.staff).forEach((s, i) => {
    const id = isObj(s) ? str(s.id) : undefined;
    if (id === undefined) return;
    staffIds.add(id);
    dup(staffSeen, id, ['staff', i, 'id'], 'staff id', add, lineOf);
  });

  const nodeSeen = new Map<string, Path>();
  const deviceSeen = new Map<string, Path>(); // sensors and buttons share one namespace: events name them by id
  const zones = new Set<string>();
  list(cfg.nodes).forEach((node, n) => {
    if (!isObj(node)) return;
    const nodeId = str(node.id);
    if (nodeId !== undefined) dup(nodeSeen, nodeId, ['nodes', n, 'id'], 'node id', add, lineOf);
    const driver = str(node.driver);
    const hardware = driver === 'gpio' || driver === 'firmata';
    const pins = new Map<number | string, Path>();
    const usePin = (path: Path, pin: unknown) => {
      const p = typeof pin === 'string' ? pin : int(pin);
      if (p === undefined) return;
      const prev = pins.get(p);
      if (prev) add(path, `pin ${p} is already used by ${formatPath(prev)} (line ${lineOf(prev)}) on this node`);
      else pins.set(p, path);
    };

    list(node.sensors).forEach((s, j) => {
      if (!isObj(s)) return;
      const base: Path = ['nodes', n, 'sensors', j];
      const id = str(s.id);
      if (id !== undefined) dup(deviceSeen, id, [...base, 'id'], 'sensor/button id', add, lineOf);
      const kind = str(s.kind);
      if (kind === 'beam-pair') {
        usePin([...base, 'outerPin'], s.outerPin);
        if (int(s.innerPin) !== undefined && s.innerPin === s.outerPin) {
          add([...base, 'innerPin'], `innerPin is the same as outerPin (${String(s.outerPin)}); a beam pair needs two beams`);
        } else usePin([...base, 'innerPin'], s.innerPin);
        return;
      }
      usePin([...base, 'pin'], s.pin);
      if (kind !== 'pir' && kind !== 'proximity') return; // door: the schema already requires its pin
      const zone = str(s.zone);
      if (zone !== undefined) zones.add(zone);
      if (hardware && s.pin === undefined) {
        add([...base, 'pin'], `driver '${driver}' needs a pin for sensor '${id ?? j}'`);
      }
      const model = kind === 'proximity' ? (str(s.model) ?? 'hcsr04') : undefined;
      if (driver === 'gpio' && model !== undefined && model !== 'digital') {
        add([...base, 'model'], `a '${model}' distance sensor needs driver 'firmata' (an Arduino); on a Pi use a module with a digital output and model 'digital'`);
      }
      if (typeof s.onCm === 'number' && typeof s.offCm === 'number' && s.offCm < s.onCm) {
        add([...base, 'offCm'], `offCm (${s.offCm}) is below onCm (${s.onCm}): presence would turn off before it turned on`);
      }
    });

    list(node.buttons).forEach((b, k) => {
      if (!isObj(b)) return;
      const base: Path = ['nodes', n, 'buttons', k];
      const id = str(b.id);
      if (id !== undefined) dup(deviceSeen, id, [...base, 'id'], 'sensor/button id', add, lineOf);
      usePin([...base, 'pin'], b.pin);
      if (hardware && b.pin === undefined) {
        add([...base, 'pin'], `driver '${driver}' needs a pin for button '${id ?? k}'`);
      }
      const staff = str(b.staff);
      if (staff !== undefined && !staffIds.has(staff)) {
        const hint = didYouMean(staff, [...staffIds]) || (staffIds.size ? ` (staff: ${few(staffIds)})` : ' (no staff are listed)');
        add([...base, 'staff'], `staff '${staff}' is not listed under staff${hint}`);
      }
    });

    if (isObj(node.indicator)) {
      usePin(['nodes', n, 'indicator', 'pin'], node.indicator.pin);
      usePin(['nodes', n, 'indicator', 'buzzerPin'], node.indicator.buzzerPin);
    }
  });

  list(rules.stepsLineZones).forEach((z, i) => {
    const zone = str(z);
    if (zone === undefined || zones.has(zone)) return;
    const hint =
      didYouMean(zone, [...zones]) || (zones.size ? ` (zones: ${few(zones)})` : ' (no pir/proximity sensor has a zone)');
    add(['rules', 'stepsLineZones', i], `no presence sensor has zone '${zone}'${hint}`);
  });

  const warnAt = rules.warnAtS;
  const within = rules.greetWithinS;
  if (typeof warnAt === 'number' && typeof within === 'number' && warnAt > within) {
    const value = warnAtSet ? `${warnAt}` : `${warnAt}, the default`;
    add(['rules', 'warnAtS'], `warnAtS (${value}) is later than greetWithinS (${within}): the warning would come after the deadline`, 'value', 'warning');
  }
}

/** A short list for a hint: large stores have many staff. */
function few(items: Iterable<string>, max = 8): string {
  const all = [...items];
  return all.length > max ? `${all.slice(0, max).join(', ')}, …` : all.join(', ');
}

function dup(seen: Map<string, Path>, id: string, path: Path, what: string, add: Add, lineOf: LineOf): void {
  const prev = seen.get(id);
  if (prev) add(path, `duplicate ${what} '${id}' (first at ${formatPath(prev)}, line ${lineOf(prev)})`);
  else seen.set(id, path);
}

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat(undefined, { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

let zoneCache: string[] | undefined;
function timeZones(): string[] {
  // supportedValuesOf omits the UTC aliases on some ICU builds
  zoneCache ??= ['UTC', ...Intl.supportedValuesOf('timeZone')];
  return zoneCache;
}
