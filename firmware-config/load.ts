import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import damerauLevenshtein from 'damerau-levenshtein';
import {
  isAlias,
  isMap,
  isNode,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Document,
  type Node as YamlNode,
  type ScalarTag,
} from 'yaml';
import { KindGuard, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import { ErrorCodes, GwError, type ErrorCode } from '../contract/errors.ts';
import { ID_PATTERN } from '../contract/ids.ts';
import { isTimeZone, timeZoneNames } from '../contract/time-zones.ts';
import { boardFor, BOARDS, checkPin, driverMismatch, type BoardName } from './boards.ts';
import { parsePhc } from './passwords.ts';
import { PasswordHash, StoreConfig, WEEKDAYS } from './schema.ts';

// Loads a store config (YAML or JSON) and reports every problem ESPHome-style:
//   demo.yaml:23:13 nodes[1].sensors[0].kind: 'beem-pair' is not one of 'beam-pair', 'door', …; did you mean 'beam-pair'?
// First the file is assembled (firmware-config/README.md "Reuse across a chain"): `!include`,
// `!secret` and `${name}` substitutions, remembering where every value was written so an
// error inside an included file names that file. Then the schema (schema.ts, the single
// source of truth) is walked for structural errors and crossCheck adds the meaning checks.

export interface ConfigIssue {
  file: string;
  /** 1-based; 0 when the problem has no line (file cannot be read) */
  line: number;
  /** 1-based; 0 when line is 0 */
  col: number;
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

/** `file:line:col path: message`; no line part when line is 0, no path part when path is ''. */
export function formatIssue(i: ConfigIssue): string {
  const where = i.line > 0 ? `${i.file}:${i.line}:${i.col}` : i.file;
  const path = i.path ? ` ${i.path}` : '';
  const sev = i.severity === 'warning' ? 'warning: ' : '';
  return `${where}${path}: ${sev}${i.message}`;
}

/** By file, line, col; stable, so one position keeps discovery order (schema before meaning checks). */
export function sortIssues<T extends ConfigIssue>(issues: readonly T[]): T[] {
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...issues].sort((a, b) => cmp(a.file, b.file) || a.line - b.line || a.col - b.col);
}

export function dedupeIssues<T extends ConfigIssue>(issues: readonly T[]): T[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = `${i.file}\0${i.line}\0${i.col}\0${i.path}\0${i.message}\0${i.severity}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export function loadConfig(file: string, opts: ParseOptions = {}): StoreConfig {
  return resolveConfig(file, opts).config;
}

export function parseConfig(text: string, file: string, opts: ParseOptions = {}): StoreConfig {
  return resolveConfigText(text, file, opts).config;
}

// ---------------------------------------------------------------------------
// Resolved config: the values plus where each was written

export type Seg = string | number;
export type Path = readonly Seg[];

export interface Pos {
  file: string;
  line: number;
  col: number;
}

/** Where one value of the resolved config came from. */
export interface Origin {
  /** where the value is written (an included file's content: in that file) */
  readonly value: Pos;
  /** where its key is written, for a mapping entry */
  readonly key?: Pos;
  /** the YAML node it was read from (in the document of `value.file`) */
  readonly node?: YamlNode;
  /** written in the top file itself, not through an include, an alias or a merge */
  readonly inTopFile: boolean;
  /** read with `!secret name` from `file`, itself or through a substitution */
  readonly secret?: { readonly name: string; readonly file: string };
  /** the whole string was this one `${name}` */
  readonly substitution?: string;
}

export interface ResolvedConfig {
  config: StoreConfig;
  warnings: ConfigIssue[];
  /** where the value at `path` was written, e.g. origin(['nodes', 0, 'mqtt']); the nearest ancestor's when not written */
  origin(path: Path): Origin | undefined;
  /** the value at `path`, or one of its parents, came from `!secret` */
  isSecret(path: Path): boolean;
  /** the top file's YAML document, with comments; `origin(path).node` points into it for the top file */
  document: Document;
  /** the top file as given, and its text */
  file: string;
  text: string;
}

export function resolveConfig(file: string, opts: ParseOptions = {}): ResolvedConfig {
  return resolveConfigText(readText(file), file, opts);
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(ErrorCodes.CONFIG_PARSE, [
      { file, line: 0, col: 0, path: '', message: `cannot read config file (${readProblem(err)})`, severity: 'error' },
    ]);
  }
}

function readProblem(err: unknown): string {
  const code = err instanceof Error && 'code' in err ? String(err.code) : String(err);
  return code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : code;
}

export function resolveConfigText(text: string, file: string, opts: ParseOptions = {}): ResolvedConfig {
  const asm = new Assembler(file, true);
  const top = asm.parseTop(text);
  if (!top.ok) throw new ConfigError(ErrorCodes.CONFIG_PARSE, sortIssues(dedupeIssues(asm.issues)));
  const raw = asm.build(top.doc.contents, top, [], asm.rootCtx());
  asm.substitute(raw);
  if (asm.issues.some((i) => i.severity === 'error')) {
    throw new ConfigError(ErrorCodes.CONFIG_PARSE, sortIssues(dedupeIssues(asm.issues)));
  }

  const add = asm.adder(raw);
  if (raw === null || raw === undefined) {
    add([], 'the file is empty; expected a mapping with store, rules, staff, nodes and hub');
    throw new ConfigError(ErrorCodes.CONFIG_INVALID, sortIssues(asm.issues));
  }

  // The walker reads what the file says. Value.Default must not run first: it merges a
  // mapping into a list default (`sensors: {a: 1}` would become `[]` and pass Check).
  dropEmpty(StoreConfig, raw);
  walk(StoreConfig, raw, [], add);
  const set = (path: Path) => getIn(raw, path) !== undefined;
  const cfg: unknown = Value.Default(StoreConfig, structuredClone(raw));
  crossCheck(cfg, add, (prev, cur) => asm.ref(prev, cur), set);

  const hasErrors = () => asm.issues.some((i) => i.severity === 'error');
  // Safety net: whatever the walker does not understand, TypeBox still rejects.
  if (!hasErrors() && !Value.Check(StoreConfig, cfg)) {
    for (const e of Value.Errors(StoreConfig, cfg)) add(pointerToPath(e.path), leafMessage(e));
  }
  const issues = sortIssues(dedupeIssues(asm.issues));
  if (hasErrors() || !Value.Check(StoreConfig, cfg)) throw new ConfigError(ErrorCodes.CONFIG_INVALID, issues);
  for (const w of issues) opts.onWarning?.(w);
  return {
    config: cfg,
    warnings: issues,
    origin: (path) => asm.origin(path),
    isSecret: (path) => asm.isSecret(path),
    document: top.doc,
    file,
    text,
  };
}

/**
 * A small YAML file checked against `schema` with the same walker and messages as the
 * store file (node bootstrap files); no tags, no substitutions. Throws ConfigError.
 */
export function parseYamlAs<S extends TSchema>(schema: S, text: string, file: string): Static<S> {
  const asm = new Assembler(file, false);
  const top = asm.parseTop(text);
  if (!top.ok) throw new ConfigError(ErrorCodes.CONFIG_PARSE, sortIssues(dedupeIssues(asm.issues)));
  const raw = asm.build(top.doc.contents, top, [], asm.rootCtx());
  if (asm.issues.some((i) => i.severity === 'error')) {
    throw new ConfigError(ErrorCodes.CONFIG_PARSE, sortIssues(dedupeIssues(asm.issues)));
  }
  const add = asm.adder(raw);
  if (raw === null || raw === undefined) add([], 'the file is empty');
  else walk(schema, raw, [], add);
  const value: unknown = raw === null || raw === undefined ? raw : Value.Default(schema, structuredClone(raw));
  if (!asm.issues.some((i) => i.severity === 'error') && !Value.Check(schema, value)) {
    for (const e of Value.Errors(schema, value)) add(pointerToPath(e.path), leafMessage(e));
  }
  if (asm.issues.some((i) => i.severity === 'error') || !Value.Check(schema, value)) {
    throw new ConfigError(ErrorCodes.CONFIG_INVALID, sortIssues(dedupeIssues(asm.issues)));
  }
  return value;
}

export function loadYamlAs<S extends TSchema>(schema: S, file: string): Static<S> {
  return parseYamlAs(schema, readText(file), file);
}

// ---------------------------------------------------------------------------
// Assembly: includes, secrets, substitutions, and where every value was written

/** key: point at the key itself (unknown key); value: at the value; a missing key points at its parent. */
type At = 'key' | 'value';
interface AddOpts {
  at?: At;
  severity?: ConfigIssue['severity'];
  /** point at this text inside the value (one range of an opening-hours day) */
  find?: string;
}
type Add = (path: Path, message: string, opts?: AddOpts) => void;

interface Source {
  /** as shown in messages: the top file as given, includes joined to the including file's folder */
  file: string;
  abs: string;
  text: string;
  lc: LineCounter;
  doc: Document.Parsed;
  /** no YAML syntax errors */
  ok: boolean;
}

interface Built extends Origin {
  value: Pos;
  key?: Pos;
  scalar?: { src: Source; start: number; end: number };
}

interface Ctx {
  /** absolute paths of the files being included, outermost first (cycle check) */
  chain: string[];
  shown: string[];
  /** collections being built (an alias inside its own anchor) */
  active: Set<unknown>;
  /** inside an alias expansion or a `<<` merge: not the place to edit */
  shared: boolean;
}

interface Substitution {
  text: string;
  typed: string | number | boolean;
  secret: Origin['secret'];
}

const TAGS: ScalarTag[] = [
  { tag: '!include', resolve: (s: string) => s },
  { tag: '!secret', resolve: (s: string) => s },
];
/** YAML's own tags this file takes (the core schema's): `!!binary`, `!!set`, `!!timestamp`, `!!js/…` are refused */
const YAML_TAG_PREFIX = 'tag:yaml.org,2002:';
const CORE_TAGS = ['str', 'int', 'float', 'bool', 'null', 'map', 'seq'];
const YAML_TAGS = new Set(CORE_TAGS.map((t) => YAML_TAG_PREFIX + t));
const TAG_NAMES = TAGS.map((t) => t.tag);
/** an alias bomb must not exhaust memory: far more values than any store file has */
const MAX_VALUES = 200_000;
/** characters in one store file (an included one too) */
const MAX_FILE_CHARS = 2_000_000;
const SECRETS_FILE = 'secrets.yaml';

const SUBSTITUTION_NAME = (() => {
  const sub = StoreConfig.properties.substitutions;
  const pattern = KindGuard.IsRecord(sub) ? Object.keys(sub.patternProperties)[0] : undefined;
  return new RegExp(pattern ?? '^[A-Za-z_][A-Za-z0-9_]*$');
})();

const pathKey = (path: Path) => path.map((s) => (typeof s === 'number' ? `#${s}` : `.${s}`)).join('\u0001');

class Assembler {
  readonly issues: ConfigIssue[] = [];
  private origins = new Map<string, Built>();
  private readonly cache = new Map<string, Source | string>();
  private readonly topAbs: string;
  private secrets: { src: Source; values: Map<string, unknown> } | string | undefined;
  private budget = MAX_VALUES;

  constructor(
    private readonly topFile: string,
    private readonly tags: boolean,
  ) {
    this.topAbs = resolve(topFile);
  }

  rootCtx(): Ctx {
    return { chain: [this.topAbs], shown: [this.topFile], active: new Set(), shared: false };
  }

  parseTop(text: string): Source {
    const src = this.parse(this.topFile, this.topAbs, text);
    this.cache.set(this.topAbs, src);
    return src;
  }

  private parse(file: string, abs: string, text: string): Source {
    if (text.length > MAX_FILE_CHARS) {
      // parsing 10 MB takes seconds and more than a GB, on a hub's reload too; no store needs it
      const lc = new LineCounter();
      this.push({ file, line: 1, col: 1 }, [], `the file has ${text.length.toLocaleString('en')} characters; a store file may have at most ${MAX_FILE_CHARS.toLocaleString('en')}`);
      return { file, abs, text: '', lc, doc: parseDocument('', { lineCounter: lc }), ok: false };
    }
    const lc = new LineCounter();
    // prettyErrors off: we format positions ourselves, one line per problem
    const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, customTags: this.tags ? TAGS : [] });
    const src: Source = { file, abs, text, lc, doc, ok: doc.errors.length === 0 };
    for (const e of doc.errors) this.push(this.pos(src, e.pos[0]), [], `invalid YAML: ${e.message}`);
    for (const w of doc.warnings) {
      if (w.code === 'TAG_RESOLVE_FAILED') continue; // reported by build(), with the tags we know
      this.push(this.pos(src, w.pos[0]), [], `YAML: ${w.message}`, 'warning');
    }
    return src;
  }

  /** An included file or secrets.yaml, read and parsed once; a string says why it cannot be read. */
  private source(file: string, abs: string): Source | string {
    const cached = this.cache.get(abs);
    if (cached !== undefined) return cached;
    let result: Source | string;
    try {
      result = this.parse(file, abs, readFileSync(abs, 'utf8'));
    } catch (err) {
      result = readProblem(err);
    }
    this.cache.set(abs, result);
    return result;
  }

  pos(src: Source, offset: number | undefined): Pos {
    const { line, col } = src.lc.linePos(offset ?? 0);
    return { file: src.file, line, col };
  }

  /** Where `!include x` starts: the node's range begins at `x`, an error about the tag points at the tag. */
  private tagPos(src: Source, node: unknown): Pos {
    const s = start(node) ?? 0;
    const i = src.text.lastIndexOf('!', s);
    if (i < 0 || !/^![^\s!]*[ \t]+$/.test(src.text.slice(i, s))) return this.pos(src, s);
    return this.pos(src, i > 0 && src.text[i - 1] === '!' ? i - 1 : i); // `!!x`: at its first `!`
  }

  push(at: Pos, path: Path, message: string, severity: ConfigIssue['severity'] = 'error'): void {
    this.issues.push({ ...at, path: formatPath(path), message, severity });
  }

  private record(path: Path, o: Omit<Built, 'inTopFile'>, src: Source, ctx: Ctx): void {
    const k = pathKey(path);
    const prev = this.origins.get(k);
    this.origins.set(k, { ...o, key: prev?.key ?? o.key, inTopFile: src.abs === this.topAbs && !ctx.shared });
  }

  build(node: unknown, src: Source, path: Path, ctx: Ctx): unknown {
    if (node === null || node === undefined) return null;
    if (--this.budget < 0) {
      if (this.budget === -1) {
        this.push(this.pos(src, start(node)), [], `invalid YAML: the file expands to more than ${MAX_VALUES} values (aliases of aliases?)`);
      }
      return null;
    }
    if (isAlias(node)) {
      const target = node.resolve(src.doc);
      if (!target) {
        this.push(this.pos(src, start(node)), path, `invalid YAML: Unresolved alias (the anchor must be set before the alias): ${node.source}`);
        return null;
      }
      if (ctx.active.has(target)) {
        this.push(this.pos(src, start(node)), path, `invalid YAML: alias *${node.source} is inside the value it names`);
        return null;
      }
      return this.build(target, src, path, { ...ctx, shared: true });
    }
    const tag = isNode(node) ? node.tag : undefined;
    if (this.tags && tag === '!include') return this.include(node, src, path, ctx);
    if (this.tags && tag === '!secret') return this.secret(node, src, path, ctx);
    const at = this.pos(src, start(node));
    if (tag !== undefined && tag.startsWith('!') && !tag.startsWith('!!')) {
      const hint = this.tags ? didYouMean(tag, TAG_NAMES) || ` (tags: ${TAG_NAMES.join(', ')})` : ' (this file takes no tags)';
      this.push(this.tagPos(src, node), path, `unknown tag '${tag}'${hint}`);
    } else if (tag !== undefined && !YAML_TAGS.has(tag)) {
      // `!!js/function` and the like would otherwise pass as the plain string they are written as
      const shown = tag.startsWith(YAML_TAG_PREFIX) ? `!!${tag.slice(YAML_TAG_PREFIX.length)}` : `!<${tag}>`;
      this.push(this.tagPos(src, node), path, `unknown tag '${shown}' (of YAML's own, this file takes ${CORE_TAGS.map((t) => `!!${t}`).join(', ')})`);
    }
    this.record(path, { value: at, node: node as YamlNode }, src, ctx);

    if (isMap(node)) {
      ctx.active.add(node);
      const obj: Obj = {};
      const merges: unknown[] = [];
      for (const pair of node.items) {
        if (!isScalar(pair.key)) {
          this.push(this.pos(src, start(pair.key)), path, 'a key must be a plain value, not a mapping or a list');
          continue;
        }
        const key = String(pair.key.value);
        // YAML merge key: `<<: !include base.yaml` (firmware-config/README.md "Reuse across a chain")
        if (key === '<<' && pair.key.type === 'PLAIN') {
          merges.push(pair.value);
          continue;
        }
        const kp = [...path, key];
        const keyAt = this.pos(src, start(pair.key));
        this.origins.set(pathKey(kp), { value: keyAt, key: keyAt, inTopFile: src.abs === this.topAbs && !ctx.shared });
        define(obj, key, pair.value === null || pair.value === undefined ? null : this.build(pair.value, src, kp, ctx));
        // `id:` with nothing after it: point at the key, not at the empty space after the colon
        if (isScalar(pair.value) && pair.value.value === null && pair.value.range && pair.value.range[0] === pair.value.range[1]) {
          const o = this.origins.get(pathKey(kp));
          if (o) this.origins.set(pathKey(kp), { ...o, value: keyAt });
        }
      }
      for (const m of merges) this.merge(obj, m, src, path, ctx);
      ctx.active.delete(node);
      return obj;
    }
    if (isSeq(node)) {
      ctx.active.add(node);
      const out = node.items.map((item, i) => this.build(item, src, [...path, i], ctx));
      ctx.active.delete(node);
      return out;
    }
    if (isScalar(node)) {
      const range = node.range ?? [0, 0, 0];
      if (typeof node.value === 'string') {
        this.record(path, { value: at, node, scalar: { src, start: range[0], end: range[1] } }, src, ctx);
      }
      return node.value;
    }
    return null;
  }

  /** `<<: X`: the keys of mapping X (or of each mapping in a list) that this mapping lacks; the first wins. */
  private merge(into: Obj, node: unknown, src: Source, path: Path, ctx: Ctx): void {
    const parts = isSeq(node) && !node.tag ? node.items : [node];
    for (const part of parts) {
      const saved = this.origins;
      const scratch = new Map<string, Built>();
      this.origins = scratch;
      let value: unknown;
      try {
        value = this.build(part, src, path, { ...ctx, shared: true });
      } finally {
        this.origins = saved;
      }
      if (!isObj(value)) {
        if (value !== null || isNode(part)) {
          this.push(this.tagPos(src, part), path, `'<<' merges a mapping (\`<<: !include base.yaml\`), got ${describe(value)}`);
        }
        continue;
      }
      for (const [key, v] of Object.entries(value)) {
        if (Object.hasOwn(into, key)) continue;
        define(into, key, v);
        const prefix = pathKey([...path, key]);
        for (const [k, o] of scratch) if (k === prefix || k.startsWith(prefix + '\u0001')) this.origins.set(k, o);
      }
    }
  }

  private include(node: unknown, src: Source, path: Path, ctx: Ctx): unknown {
    const at = this.tagPos(src, node);
    if (!isScalar(node) || typeof node.value !== 'string' || node.value.trim() === '') {
      this.push(at, path, '!include needs a file name, relative to this file: `!include nodes.yaml`');
      return null;
    }
    const rel = node.value.trim();
    const abs = resolve(dirname(src.abs), rel);
    const shown = isAbsolute(rel) ? rel : join(dirname(src.file), rel);
    const loop = ctx.chain.indexOf(abs);
    if (loop >= 0) {
      this.push(at, path, `!include '${rel}' makes a cycle: ${[...ctx.shown.slice(loop), shown].join(' -> ')}`);
      return null;
    }
    this.record(path, { value: at, node: node }, src, ctx);
    const inc = this.source(shown, abs);
    if (typeof inc === 'string') {
      this.push(at, path, `!include '${rel}': cannot read ${shown} (${inc})`);
      return null;
    }
    if (!inc.ok) return null; // its syntax errors are reported, in its own lines
    return this.build(inc.doc.contents, inc, path, { chain: [...ctx.chain, abs], shown: [...ctx.shown, shown], active: new Set(), shared: ctx.shared });
  }

  private secretsPath(): { shown: string; abs: string } {
    return { shown: join(dirname(this.topFile), SECRETS_FILE), abs: join(dirname(this.topAbs), SECRETS_FILE) };
  }

  private loadSecrets(): { src: Source; values: Map<string, unknown> } | string {
    if (this.secrets !== undefined) return this.secrets;
    const { shown, abs } = this.secretsPath();
    const src = this.source(shown, abs);
    if (typeof src === 'string') return (this.secrets = src);
    const values = new Map<string, unknown>();
    const contents = src.doc.contents;
    if (src.ok && isMap(contents)) {
      for (const pair of contents.items) {
        if (!isScalar(pair.key)) continue;
        values.set(String(pair.key.value), isNode(pair.value) ? pair.value.toJS(src.doc) : null);
      }
    } else if (src.ok && contents !== null) {
      this.push(this.pos(src, start(contents)), [], 'expected a mapping of secret names to values');
    }
    return (this.secrets = { src, values });
  }

  private secret(node: unknown, src: Source, path: Path, ctx: Ctx): unknown {
    const at = this.tagPos(src, node);
    const file = this.secretsPath().shown;
    if (!isScalar(node) || typeof node.value !== 'string' || node.value.trim() === '') {
      this.push(at, path, `!secret needs the name of a value in ${file}: \`!secret door_hash\``);
      return null;
    }
    const name = node.value.trim();
    const secrets = this.loadSecrets();
    if (typeof secrets === 'string') {
      this.push(at, path, `!secret '${name}': cannot read ${file} (${secrets})`);
      return null;
    }
    if (!secrets.src.ok) return null;
    if (!secrets.values.has(name)) {
      const keys = [...secrets.values.keys()];
      const hint = didYouMean(name, keys) || (keys.length ? ` (it has: ${few(keys)})` : ' (it has no values)');
      this.push(at, path, `!secret '${name}' is not in ${file}${hint}`);
      return null;
    }
    this.record(path, { value: at, node: node, secret: { name, file } }, src, ctx);
    return structuredClone(secrets.values.get(name));
  }

  /** `${name}` in every string from the top-level `substitutions:`, which is then dropped. */
  substitute(root: unknown): void {
    const subs = new Map<string, Substitution>();
    if (isObj(root) && Object.hasOwn(root, 'substitutions')) {
      const raw = root.substitutions;
      delete root.substitutions;
      const base: Path = ['substitutions'];
      if (isObj(raw)) {
        for (const [name, v] of Object.entries(raw)) {
          const p = [...base, name];
          if (!SUBSTITUTION_NAME.test(name)) {
            this.push(this.locate(p, 'key'), p, `'${name}' is not a valid substitution name (letters, digits and '_', not starting with a digit)`);
          } else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
            subs.set(name, { text: String(v), typed: v, secret: this.secretOf(p) });
          } else {
            this.push(this.locate(p, 'value'), p, `expected a string, got ${describe(v)}`);
          }
        }
      } else if (raw !== null) {
        this.push(this.locate(base, 'value'), base, `expected a mapping of names to values, got ${describe(raw)}`);
      }
    }
    this.apply(root, [], subs);
  }

  private apply(value: unknown, path: Path, subs: Map<string, Substitution>): unknown {
    if (Array.isArray(value)) {
      value.forEach((v, i) => (value[i] = this.apply(v, [...path, i], subs)));
      return value;
    }
    if (isObj(value)) {
      for (const [k, v] of Object.entries(value)) value[k] = this.apply(v, [...path, k], subs);
      return value;
    }
    if (typeof value !== 'string' || !value.includes('${') || this.isSecret(path)) return value;
    const o = this.origins.get(pathKey(path));
    const source = o?.scalar ? o.scalar.src.text.slice(o.scalar.start, o.scalar.end) : '';
    let cursor = 0;
    const used: string[] = [];
    let secret: Origin['secret'];
    const out = value.replace(/\$\{([^}]*)\}/g, (match, name: string) => {
      // the column of this `${…}` in the file (quoted strings may move it; then the value's start)
      const idx = source.indexOf(match, cursor);
      if (idx >= 0) cursor = idx + match.length;
      const sub = subs.get(name);
      if (sub) {
        used.push(name);
        secret ??= sub.secret;
        return sub.text;
      }
      const at = o?.scalar && idx >= 0 ? this.pos(o.scalar.src, o.scalar.start + idx) : this.locate(path, 'value');
      const names = [...subs.keys()];
      const hint = didYouMean(name, names) || (names.length ? ` (substitutions: ${few(names)})` : ' (no substitutions are defined)');
      this.push(at, path, `unknown substitution '${match}'${hint}`);
      return match;
    });
    if (o && used.length) {
      const whole = /^\$\{([^}]*)\}$/.exec(value)?.[1];
      this.origins.set(pathKey(path), { ...o, ...(whole ? { substitution: whole } : {}), ...(secret ? { secret } : {}) });
      // a value that is exactly `${name}` takes the substitution as written: `port: "${mqtt_port}"`
      // with `mqtt_port: 1883` is the number (firmware-config/README.md "Substitutions")
      const sub = whole !== undefined ? subs.get(whole) : undefined;
      if (sub) return sub.typed;
    }
    return out;
  }

  private secretOf(path: Path): Origin['secret'] {
    for (let n = path.length; n >= 0; n--) {
      const s = this.origins.get(pathKey(path.slice(0, n)))?.secret;
      if (s) return s;
    }
    return undefined;
  }

  isSecret(path: Path): boolean {
    return this.secretOf(path) !== undefined;
  }

  origin(path: Path): Origin | undefined {
    for (let n = path.length; n >= 0; n--) {
      const o = this.origins.get(pathKey(path.slice(0, n)));
      if (o) {
        const { scalar: _s, ...pub } = o;
        return pub;
      }
    }
    return undefined;
  }

  /** The position of `path`; a value that is not written (a missing key) points at its nearest written parent. */
  locate(path: Path, at: At, find?: string): Pos {
    for (let n = path.length; n >= 0; n--) {
      const o = this.origins.get(pathKey(path.slice(0, n)));
      if (!o) continue;
      if (n === path.length && at === 'key' && o.key) return o.key;
      if (n === path.length && find !== undefined && o.scalar) {
        const idx = o.scalar.src.text.slice(o.scalar.start, o.scalar.end).indexOf(find);
        if (idx >= 0) return this.pos(o.scalar.src, o.scalar.start + idx);
      }
      return o.value;
    }
    return { file: this.topFile, line: 1, col: 1 };
  }

  /** `13:52` for a place in the same file as `cur`, else `other.yaml:13:52`. */
  ref(prev: Path, cur: Path): string {
    const a = this.locate(prev, 'value');
    const b = this.locate(cur, 'value');
    return a.file === b.file ? `${a.line}:${a.col}` : `${a.file}:${a.line}:${a.col}`;
  }

  adder(raw: unknown): Add {
    return (path, message, opts = {}) => {
      let text = message;
      // a message must not show a secret: values read with !secret are replaced by ***
      const v = this.isSecret(path) ? getIn(raw, path) : undefined;
      if (typeof v === 'string' && v.length > 0) text = text.split(v).join('***');
      this.push(this.locate(path, opts.at ?? 'value', opts.find), path, text, opts.severity ?? 'error');
    };
  }
}

function start(node: unknown): number | undefined {
  if (typeof node !== 'object' || node === null || !('range' in node)) return undefined;
  const range: unknown = node.range;
  return Array.isArray(range) && typeof range[0] === 'number' ? range[0] : undefined;
}

/** Own data property even for `__proto__`: a key in the file never reaches a prototype. */
function define(obj: Obj, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function getIn(value: unknown, path: Path): unknown {
  let v = value;
  for (const seg of path) {
    if (Array.isArray(v) && typeof seg === 'number') v = v[seg];
    else if (isObj(v) && typeof seg === 'string' && Object.hasOwn(v, seg)) v = v[seg];
    else return undefined;
  }
  return v;
}

export function formatPath(path: Path): string {
  let s = '';
  for (const seg of path) {
    if (typeof seg === 'number') s += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(seg)) s += s ? `.${seg}` : seg;
    else s += `[${JSON.stringify(seg)}]`;
  }
  return s;
}

function pointerToPath(pointer: string): Seg[] {
  if (pointer === '') return [];
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

// ---------------------------------------------------------------------------
// Schema walker: structural errors with readable messages, all of them

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** firmware-config/README.md "Passwords": the store file holds scrypt hashes only. */
const HASH_ADVICE = 'run `greetwatch config hash-password` and put the result in passwordHash';
export const PLAIN_PASSWORD_MESSAGE = `plain passwords are not stored in the store file: ${HASH_ADVICE}`;

function walk(schema: TSchema, value: unknown, path: Path, add: Add): void {
  if (KindGuard.IsObject(schema)) {
    if (!isObj(value)) return add(path, `expected a mapping, got ${describe(value)}`);
    const known = Object.keys(schema.properties);
    const required = new Set(schema.required ?? []);
    const plain = known.includes('passwordHash') ? Object.keys(value).find((k) => k.toLowerCase() === 'password') : undefined;
    for (const key of known) {
      const sub = schema.properties[key]!;
      if (value[key] === undefined) {
        // a key with a default is optional: Value.Default fills it; a plain password is reported instead
        if (required.has(key) && !('default' in sub) && !(key === 'passwordHash' && plain)) {
          add([...path, key], `required key '${key}' is missing`);
        }
        continue;
      }
      walk(sub, value[key], [...path, key], add);
    }
    if (schema.additionalProperties === false) {
      for (const key of Object.keys(value)) {
        if (known.includes(key)) continue;
        if (key === plain) {
          add([...path, key], PLAIN_PASSWORD_MESSAGE, { at: 'key' });
          continue;
        }
        const hint = didYouMean(key, known);
        add([...path, key], `unknown key '${key}'${hint || ` (valid keys: ${known.join(', ')})`}`, { at: 'key' });
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
  if (KindGuard.IsString(schema) && schema.pattern === PasswordHash.pattern) {
    // never echo the value: it may be a plain password pasted in the wrong place
    const parsed = typeof value === 'string' ? parsePhc(value) : { ok: false as const, reason: `got ${value === null ? 'null' : typeof value}` };
    if (!parsed.ok) add(path, `not a valid scrypt PHC string (${parsed.reason}): ${HASH_ADVICE}`);
    return;
  }
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
      // `knid: door`: the misspelt key is what to point at, not the missing one
      for (const near of Object.keys(value)) {
        const hint = didYouMean(near, [tag]);
        if (hint) return add([...path, near], `unknown key '${near}'${hint}`, { at: 'key' });
      }
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
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `string '${v}'`;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return `${typeof v} ${v.toString()}`;
  return typeof v;
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
    case ValueErrorType.StringMaxLength:
      return `must be at most ${String(s.maxLength)} characters long`;
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

/** longer words get no suggestion */
const MAX_SUGGEST_LENGTH = 128;

/** `; did you mean 'x'?` for the closest candidate within a third of the length, else ''. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  // the distance costs length × length per candidate: a pasted 100 kB value would hang the
  // loader (and a hub reloading it) or exhaust its memory, and no key or id is that long
  if (word.length > MAX_SUGGEST_LENGTH) return '';
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    // the lengths alone put it past the limit: no need to measure
    if (Math.abs(word.length - c.length) > reach(word, c)) continue;
    // case is a cheap mistake: GreetWithinS is one edit from greetWithinS either way
    const d = levenshtein(word.toLowerCase(), c.toLowerCase()) + (word === c ? 0 : word.toLowerCase() === c.toLowerCase() ? 0.5 : 0);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best !== undefined && bestD <= reach(word, best) ? `; did you mean '${best}'?` : '';
}

/** the most edits a suggestion may be away: a third of the longer word, at least one */
const reach = (a: string, b: string): number => Math.max(1, Math.floor(Math.max(a.length, b.length) / 3));

// ---------------------------------------------------------------------------
// Meaning checks (firmware-config/README.md "Checks"). They run on the defaulted but possibly invalid value,
// so every access is guarded: a broken sensor must not hide a duplicate id elsewhere.

const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : undefined);
const pinOf = (v: unknown): number | string | undefined => {
  // out-of-range pins are the schema's to report (0-63, A0-A7)
  if (typeof v === 'string') return /^A[0-7]$/.test(v) ? v : undefined;
  const n = int(v);
  return n !== undefined && n >= 0 && n <= 63 ? n : undefined;
};

/** `13:52` or `other.yaml:13:52`: where `prev` is written, seen from the issue at `cur`. */
type Ref = (prev: Path, cur: Path) => string;

const RANGE_RE = /^(\d\d):(\d\d)-(\d\d):(\d\d)$/;

function crossCheck(cfg: unknown, add: Add, ref: Ref, isSet: (path: Path) => boolean): void {
  if (!isObj(cfg)) return;
  const store = isObj(cfg.store) ? cfg.store : {};
  const rules = isObj(cfg.rules) ? cfg.rules : {};

  const tz = str(store.timezone);
  if (tz !== undefined && !isTimeZone(tz)) {
    add(['store', 'timezone'], `'${tz}' is not a valid IANA time zone${didYouMean(tz, timeZones())}`);
  }
  if (isObj(store.openingHours)) {
    for (const day of WEEKDAYS) checkDayHours(str(store.openingHours[day]), ['store', 'openingHours', day], add);
  }

  const staffIds = new Set<string>();
  const staffSeen = new Map<string, Path>();
  list(cfg.staff).forEach((s, i) => {
    const id = isObj(s) ? str(s.id) : undefined;
    if (id === undefined) return;
    staffIds.add(id);
    dup(staffSeen, id, ['staff', i, 'id'], 'staff id', add, ref);
  });
  // users are logins, staff are people on the floor: the same id in both is fine
  const userSeen = new Map<string, Path>();
  list(cfg.users).forEach((u, i) => {
    const id = isObj(u) ? str(u.id) : undefined;
    if (id !== undefined) dup(userSeen, id, ['users', i, 'id'], 'user id', add, ref);
  });

  /** a button's `staff` must be one of the store's staff */
  const staffListed = (raw: unknown, path: Path): void => {
    const staff = str(raw);
    if (staff === undefined || staffIds.has(staff)) return;
    const hint = didYouMean(staff, [...staffIds]) || (staffIds.size ? ` (staff: ${few(staffIds)})` : ' (no staff are listed)');
    add(path, `staff '${staff}' is not listed under staff${hint}`);
  };

  const nodeSeen = new Map<string, Path>();
  const deviceSeen = new Map<string, Path>(); // sensors and buttons share one namespace: events name them by id
  const zones = new Set<string>();
  list(cfg.nodes).forEach((node, n) => {
    if (!isObj(node)) return;
    const nodeId = str(node.id);
    if (nodeId !== undefined) dup(nodeSeen, nodeId, ['nodes', n, 'id'], 'node id', add, ref);
    const driver = str(node.driver);
    const hardware = driver === 'gpio' || driver === 'firmata';
    const boardName = str(node.board);
    const board = boardName !== undefined && Object.hasOwn(BOARDS, boardName) ? (boardName as BoardName) : undefined;
    if (board && driver !== undefined) {
      const wrong = driverMismatch(board, driver);
      const boardPath: Path = ['nodes', n, 'board'];
      const driverPath: Path = ['nodes', n, 'driver'];
      if (wrong) add(boardPath, `${wrong} (${formatPath(driverPath)}, ${ref(driverPath, boardPath)})`);
    }
    const pinsOf = boardFor(board, driver);
    const pins = new Map<number | string, Path>();
    const usePin = (path: Path, raw: unknown, what: string, need: 'digital' | 'analog' = 'digital') => {
      const p = pinOf(raw);
      if (p === undefined) return;
      const problem = checkPin(pinsOf, p, need, what);
      if (problem) add(path, problem.message, { severity: problem.severity });
      const prev = pins.get(p);
      if (prev) add(path, `pin ${q(p)} is already used by ${formatPath(prev)} (${ref(prev, path)}) on this node`);
      else pins.set(p, path);
    };

    list(node.sensors).forEach((s, j) => {
      if (!isObj(s)) return;
      const base: Path = ['nodes', n, 'sensors', j];
      const id = str(s.id);
      if (id !== undefined) dup(deviceSeen, id, [...base, 'id'], 'sensor/button id', add, ref);
      const kind = str(s.kind);
      if (kind === 'beam-pair') {
        usePin([...base, 'outerPin'], s.outerPin, 'a beam-pair sensor');
        if (pinOf(s.innerPin) !== undefined && s.innerPin === s.outerPin) {
          add([...base, 'innerPin'], `innerPin is the same as outerPin (${q(s.outerPin)}); a beam pair needs two beams`);
        } else usePin([...base, 'innerPin'], s.innerPin, 'a beam-pair sensor');
        return;
      }
      const model = kind === 'proximity' ? (str(s.model) ?? 'hcsr04') : undefined;
      const what = model !== undefined ? `a '${model}' distance sensor` : `a ${kind ?? 'sensor'}${kind ? ' sensor' : ''}`;
      usePin([...base, 'pin'], s.pin, what, model === 'gp2y0a21yk' ? 'analog' : 'digital');
      if (kind !== 'pir' && kind !== 'proximity') return; // door: the schema already requires its pin
      const zone = str(s.zone);
      if (zone !== undefined) zones.add(zone);
      if (hardware && s.pin === undefined) {
        add([...base, 'pin'], `driver '${driver}' needs a pin for sensor '${id ?? j}'`);
      }
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
      if (id !== undefined) dup(deviceSeen, id, [...base, 'id'], 'sensor/button id', add, ref);
      usePin([...base, 'pin'], b.pin, `a ${str(b.kind) ?? 'counter'} button`);
      if (hardware && b.pin === undefined) {
        add([...base, 'pin'], `driver '${driver}' needs a pin for button '${id ?? k}'`);
      }
      staffListed(b.staff, [...base, 'staff']);
    });

    if (isObj(node.indicator)) {
      usePin(['nodes', n, 'indicator', 'pin'], node.indicator.pin, 'an indicator LED');
      usePin(['nodes', n, 'indicator', 'buzzerPin'], node.indicator.buzzerPin, 'a buzzer');
    }
  });

  // Zigbee2MQTT buttons (README "Zigbee2MQTT buttons"): their events come from a hub-side node,
  // so its id must be no real node's; their ids are in the sensors' and buttons' namespace; a
  // wearable belongs to a listed staff member; one device maps to one button
  const z2m = isObj(cfg.integrations) && isObj(cfg.integrations.zigbee2mqtt) ? cfg.integrations.zigbee2mqtt : undefined;
  const z2mButtons = list(z2m?.buttons);
  if (z2m && z2mButtons.length > 0) {
    const base: Path = ['integrations', 'zigbee2mqtt'];
    const zNode = str(z2m.node) ?? 'zigbee';
    const real = nodeSeen.get(zNode);
    if (real) {
      const at: Path = isSet([...base, 'node']) ? [...base, 'node'] : [...base, 'buttons'];
      add(at, `the Zigbee buttons' node '${zNode}' is also a node of the store (${formatPath(real)}, ${ref(real, at)}): give integrations.zigbee2mqtt.node an id of its own`);
    }
    const names = new Map<string, Path>();
    z2mButtons.forEach((b, k) => {
      if (!isObj(b)) return;
      const at: Path = [...base, 'buttons', k];
      const id = str(b.id);
      if (id !== undefined) dup(deviceSeen, id, [...at, 'id'], 'sensor/button id', add, ref);
      const name = str(b.friendlyName);
      if (name !== undefined) dup(names, name, [...at, 'friendlyName'], 'Zigbee friendly name', add, ref);
      staffListed(b.staff, [...at, 'staff']);
    });
  }

  list(rules.stepsLineZones).forEach((z, i) => {
    const zone = str(z);
    if (zone === undefined || zones.has(zone)) return;
    const hint =
      didYouMean(zone, [...zones]) || (zones.size ? ` (zones: ${few(zones)})` : ' (no pir/proximity sensor has a zone)');
    add(['rules', 'stepsLineZones', i], `no presence sensor has zone '${zone}'${hint}`);
  });

  // CONTRACT.md "Store rules": the warning (warnAtS) must come before the deadline (greetWithinS)
  const warnAt = rules.warnAtS;
  const within = rules.greetWithinS;
  if (typeof warnAt === 'number' && typeof within === 'number' && warnAt >= within) {
    const warnPath: Path = ['rules', 'warnAtS'];
    const withinPath: Path = ['rules', 'greetWithinS'];
    const late = 'the warning would come at or after the deadline';
    if (isSet(warnPath)) {
      const other = isSet(withinPath) ? `at ${ref(withinPath, warnPath)}` : 'the default';
      add(warnPath, `warnAtS (${warnAt}) is not below greetWithinS (${within}, ${other}): ${late}`);
    } else {
      add(withinPath, `greetWithinS (${within}) is not above warnAtS (${warnAt}, the default): ${late}; set warnAtS below ${within}`);
    }
  }
}

/** One day of openingHours: each range ends after it starts; ranges in order, apart (firmware-config/README.md "Opening hours"). */
function checkDayHours(text: string | undefined, path: Path, add: Add): void {
  if (text === undefined || text === 'closed') return;
  const parts = text.split(',').map((r) => r.trim());
  const ranges = parts.map((r) => RANGE_RE.exec(r));
  if (ranges.some((m) => !m)) return; // the pattern error is reported
  const several = parts.length > 1;
  const ok: Array<{ text: string; from: number; to: number; open: string; close: string }> = [];
  ranges.forEach((m, i) => {
    const [, h1, m1, h2, m2] = m!;
    const r = { text: parts[i]!, from: Number(h1) * 60 + Number(m1), to: Number(h2) * 60 + Number(m2), open: `${h1}:${m1}`, close: `${h2}:${m2}` };
    const at = { find: r.text };
    const inRange = several ? ` in '${r.text}'` : '';
    if (r.to <= r.from) {
      add(path, `closing time ${r.close} is not after opening time ${r.open}${inRange} (hours past midnight are not supported; use 24:00)`, at);
      return;
    }
    if (r.to > 24 * 60) {
      add(path, `closing time ${r.close}${inRange} is past midnight; the latest closing time is 24:00`, at);
      return;
    }
    const clash = ok.find((o) => r.from <= o.to && o.from <= r.to);
    if (clash) {
      const [a, b] = clash.from <= r.from ? [clash, r] : [r, clash];
      if (r.from < clash.to && clash.from < r.to) add(path, `'${r.text}' overlaps '${clash.text}': the ranges of a day must not overlap`, at);
      else add(path, `'${r.text}' touches '${clash.text}': write them as one range '${a.open}-${b.close}'`, at);
      return;
    }
    const last = ok[ok.length - 1];
    if (last && r.from < last.from) {
      add(path, `'${r.text}' starts before '${last.text}': list the ranges of a day in order`, at);
      return;
    }
    ok.push(r);
  });
}

/** A short list for a hint: large stores have many staff. */
function few(items: Iterable<string>, max = 8): string {
  const all = [...items];
  return all.length > max ? `${all.slice(0, max).join(', ')}, …` : all.join(', ');
}

function dup(seen: Map<string, Path>, id: string, path: Path, what: string, add: Add, ref: Ref): void {
  const prev = seen.get(id);
  if (prev) add(path, `duplicate ${what} '${id}' (first at ${formatPath(prev)}, ${ref(prev, path)})`);
  else seen.set(id, path);
}

function timeZones(): string[] {
  // supportedValuesOf omits the UTC aliases on some ICU builds
  return timeZoneNames() ?? ['UTC', ...Intl.supportedValuesOf('timeZone')];
}
