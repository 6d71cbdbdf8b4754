import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { parse as parseYaml } from 'yaml';
import { ErrorCodes, GwError, parseSource, type ErrorCode, type Report, type Visit } from '../contract/index.ts';
import { ConfigError, formatPath, parseConfig, parseYamlAs, resolveConfig, type ResolvedConfig } from '../firmware-config/load.ts';
import { Rules, type StoreConfig } from '../firmware-config/schema.ts';
import { parseTraceLine, type ReplayResult } from './engine/replay.ts';
import { buildReport } from './engine/report.ts';
import type { TimeZone } from './engine/tz.ts';
import { storeTimeZone } from './engine/store-zone.ts';
import { parseTimeParam } from './http/params.ts';
import type { ReplayReply, ReplayTask } from './replay-worker.ts';

// `greetwatch replay` for what-if questions on recorded history (README "Record and replay a
// day"): several traces or a folder, events of several stores mixed, store rules changed with
// --rules. Each store is replayed by its own engine (CONTRACT.md "Replay") on a worker thread,
// one task per store; the chain figures are computed over all stores' visits together.
// One trace with only the old options stays the contract's single-store report JSON (cli.ts).

export interface WhatIfIo {
  out(text: string): void;
  err(line: string): void;
}

const OPTIONS = {
  config: { type: 'string', multiple: true },
  rules: { type: 'string', multiple: true },
  from: { type: 'string' },
  to: { type: 'string' },
  jobs: { type: 'string' },
  json: { type: 'boolean' },
  table: { type: 'boolean' },
  visits: { type: 'boolean' },
  stats: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const usage = (msg: string) => new GwError(ErrorCodes.USAGE, `greetwatch replay: ${msg} (greetwatch replay --help) [${ErrorCodes.USAGE}]`);

function parse(args: string[]) {
  try {
    return parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw usage((err as Error).message);
  }
}

/**
 * True unless this is the contract's form, `replay <one trace file> --config <file>` with
 * --from/--to/--visits at most: that prints the single-store report JSON, as it always has
 * (CONTRACT.md "Replay"; test/unit/fixtures.test.ts compares its bytes).
 */
export function isWhatIf(args: string[]): boolean {
  let p;
  try {
    p = parse(args);
  } catch {
    return true; // the what-if parser reports it, with its options
  }
  const v = p.values;
  if (v.rules !== undefined || v.jobs !== undefined || v.json || v.table || v.stats) return true;
  if ((v.config?.length ?? 0) > 1 || p.positionals.length !== 1) return true;
  return isDir(p.positionals[0]!);
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------
// --rules key=value …

/** `a=1,b=[x, y]` → ['a=1', 'b=[x, y]']: commas inside brackets belong to a list value. */
export function splitRuleArgs(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    let depth = 0;
    let cur = '';
    for (const ch of v) {
      if (ch === '[' || ch === '{') depth++;
      else if ((ch === ']' || ch === '}') && depth > 0) depth--;
      if (ch === ',' && depth === 0) {
        out.push(cur);
        cur = '';
      } else cur += ch;
    }
    out.push(cur);
  }
  return out.map((s) => s.trim()).filter((s) => s !== '');
}

const ruleError = (lines: string[]) => new GwError(ErrorCodes.CONFIG_INVALID, lines.map((l) => `greetwatch replay: ${l} [${ErrorCodes.CONFIG_INVALID}]`).join('\n'));

/**
 * Parses and checks rule overrides with the store file's own schema and messages (the same
 * walker as `config check`): an unknown key gets "did you mean", a bad value says why.
 * Values are YAML, as in the store file: `greetWithinS=20`, `stepsLineZones=[floor-mid]`.
 */
export function parseRuleOverrides(values: readonly string[]): Partial<Rules> {
  const raw: Record<string, unknown> = {};
  const shown = new Map<string, string>();
  const problems: string[] = [];
  for (const item of splitRuleArgs(values)) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw usage(`--rules ${item}: expected key=value, e.g. greetWithinS=20`);
    const key = item.slice(0, eq).trim();
    const text = item.slice(eq + 1).trim();
    let value: unknown;
    try {
      value = parseYaml(text);
    } catch (err) {
      problems.push(`--rules ${item}: not a value (${(err as Error).message.split('\n')[0]!.replace(/:$/, '')})`);
      continue;
    }
    // own property even for `__proto__`, as the store file loader does
    Object.defineProperty(raw, key, { value, enumerable: true, writable: true, configurable: true });
    shown.set(key, item);
  }
  if (problems.length) throw ruleError(problems);
  let checked: Rules;
  try {
    // JSON is YAML: the walker sees exactly these values
    checked = parseYamlAs(Rules, JSON.stringify(raw), '--rules');
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw ruleError(
      err.issues
        .filter((i) => i.severity === 'error')
        .map((i) => {
          const key = [...shown.keys()].find((k) => i.path === formatPath([k]) || i.path.startsWith(formatPath([k]) + '[') || i.path.startsWith(formatPath([k]) + '.'));
          return `--rules ${key !== undefined ? shown.get(key)! : i.path}: ${key !== undefined && i.path !== formatPath([key]) ? `${i.path}: ` : ''}${i.message}`;
        }),
    );
  }
  // the checked values of the keys given (not the defaults parseYamlAs fills in)
  const out: Partial<Rules> = {};
  for (const k of Object.keys(raw) as Array<keyof Rules>) Object.assign(out, { [k]: checked[k] });
  return out;
}

/**
 * The store file with the overrides, held to the store file's meaning checks too (warnAtS below
 * greetWithinS, steps-line zones a sensor reports): a hub would refuse such a file, so the
 * what-if does. The rules written for the check are those the file writes and the overrides,
 * so a message can say "the default" of the others, as `config check` does.
 */
export function applyRules(resolved: ResolvedConfig, overrides: Partial<Rules>): StoreConfig {
  const cfg = resolved.config;
  if (Object.keys(overrides).length === 0) return cfg;
  const rules = { ...cfg.rules, ...overrides };
  const parent = resolved.origin(['rules'])?.key;
  const writtenInFile = (k: string) => {
    const key = resolved.origin(['rules', k])?.key;
    return key !== undefined && (key.file !== parent?.file || key.line !== parent.line || key.col !== parent.col);
  };
  const written = Object.fromEntries(Object.entries(rules).filter(([k]) => k in overrides || writtenInFile(k)));
  try {
    parseConfig(JSON.stringify({ ...cfg, rules: written }), `${resolved.file} with --rules`);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // the file itself was valid: only what the overrides changed can be wrong
    const bad = err.issues.filter((i) => i.severity === 'error' && (i.path === 'rules' || i.path.startsWith('rules.')));
    // positions point into the generated JSON, not the store file: drop them
    if (bad.length) throw ruleError(bad.map((i) => `--rules for ${resolved.file}: ${i.path}: ${i.message.replace(/,? at \d+:\d+/g, '')}`));
  }
  return { ...cfg, rules };
}

// ---------------------------------------------------------------------------
// Trace files

/** The hub's trace file names (hub/trace-recorder.ts): `<store>-<UTC date>.jsonl`. */
const TRACE_NAME = /^[a-z0-9][a-z0-9-]{0,31}-\d{4}-\d{2}-\d{2}\.jsonl$/;

/** Files as given; a folder contributes the hub's trace files in it and below, in path order. */
export function collectTraceFiles(inputs: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string, found: string[]) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p, found);
      else if (e.isFile() && TRACE_NAME.test(e.name)) found.push(p);
    }
  };
  for (const input of inputs) {
    let st: fs.Stats;
    try {
      st = fs.statSync(input);
    } catch (err) {
      throw usage(`${input}: cannot read trace (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    if (st.isDirectory()) {
      const found: string[] = [];
      walk(input, found);
      if (!found.length) throw usage(`${input}: no trace files (<store>-<YYYY-MM-DD>.jsonl) in this folder`);
      out.push(...found.sort());
    } else out.push(input);
  }
  return [...new Set(out)];
}

export interface Rejection {
  file: number;
  line: number;
  code: ErrorCode;
  reason: string;
}

interface StoreLines {
  /** per line: file index, 1-based line number, byte range in that file */
  file: number[];
  line: number[];
  start: number[];
  end: number[];
}

export interface SplitTraces {
  files: string[];
  stores: Map<string, { text: Uint8Array; origin: Int32Array; lines: number }>;
  rejected: Rejection[];
}

const SOURCE_MARK = Buffer.from('"source":"/stores/');
const RECV_MARK = Buffer.from('"recvtime":"');
const TIME_MARK = Buffer.from('"time":"');
const SLASH = 0x2f;
const QUOTE = 0x22;
const ID_RE = /^[a-z0-9][a-z0-9-]{0,31}$/;

const isBlank = (buf: Buffer, start: number, end: number) => {
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false;
  }
  return true;
};

/**
 * Groups the lines of all files by the store in their `source` (CONTRACT.md "Event envelope"),
 * on the bytes, without parsing the JSON: the workers parse each line once. A line without the
 * usual `"source":"/stores/` is parsed here to find its store or the reason it is refused.
 * A store's lines from several files are merged in arrival order (recvtime, else time, as
 * replay reads them), each file keeping its own order and ties going to the earlier file;
 * the hub's day files of one store (hub/trace-recorder.ts) hold disjoint recvtime ranges, so
 * for them this is their concatenation, which is what the hub replays on start.
 */
export function splitByStore(files: readonly string[]): SplitTraces {
  const bufs: Buffer[] = [];
  const per = new Map<string, StoreLines>();
  const rejected: Rejection[] = [];
  files.forEach((file, fi) => {
    let buf: Buffer;
    try {
      buf = fs.readFileSync(file);
    } catch (err) {
      throw usage(`${file}: cannot read trace (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    bufs.push(buf);
    let pos = 0;
    let lineNo = 0;
    let mark = buf.indexOf(SOURCE_MARK, 0);
    while (pos < buf.length) {
      let end = buf.indexOf(0x0a, pos);
      if (end < 0) end = buf.length;
      lineNo++;
      const start = pos;
      pos = end + 1;
      if (isBlank(buf, start, end)) continue;
      if (mark !== -1 && mark < start) mark = buf.indexOf(SOURCE_MARK, start);
      let store: string | undefined;
      if (mark !== -1 && mark < end) {
        const s = mark + SOURCE_MARK.length;
        let e = s;
        while (e < end && buf[e] !== SLASH && buf[e] !== QUOTE) e++;
        const id = buf.toString('latin1', s, e);
        if (buf[e] === SLASH && ID_RE.test(id)) store = id;
      }
      if (store === undefined) {
        // unusual layout (spaces, escapes) or not an event: parse it to find out
        const v = parseTraceLine(buf.toString('utf8', start, end), () => null);
        if (v === null) continue;
        if (!v.ok) {
          rejected.push({ file: fi, line: lineNo, code: v.code, reason: v.reason });
          continue;
        }
        const src = parseSource(v.event.source);
        if (!src) {
          rejected.push({ file: fi, line: lineNo, code: ErrorCodes.EVENT_SOURCE, reason: `source: not /stores/{store}/nodes/{node}: ${v.event.source}` });
          continue;
        }
        store = src.store;
      }
      let s = per.get(store);
      if (!s) per.set(store, (s = { file: [], line: [], start: [], end: [] }));
      s.file.push(fi);
      s.line.push(lineNo);
      s.start.push(start);
      s.end.push(end);
    }
  });

  const stores: SplitTraces['stores'] = new Map();
  for (const [store, s] of per) {
    const order = mergeOrder(s, bufs);
    let size = Math.max(0, order.length - 1);
    for (const i of order) size += s.end[i]! - s.start[i]!;
    const text = new Uint8Array(size);
    const origin = new Int32Array(order.length * 2);
    let off = 0;
    // lines that follow each other in one file are copied as one run, '\n's included
    for (let k = 0; k < order.length; ) {
      const first = order[k]!;
      let last = first;
      origin[2 * k] = s.file[first]!;
      origin[2 * k + 1] = s.line[first]!;
      for (k++; k < order.length; k++) {
        const i = order[k]!;
        if (s.file[i] !== s.file[last] || s.start[i] !== s.end[last]! + 1) break;
        origin[2 * k] = s.file[i]!;
        origin[2 * k + 1] = s.line[i]!;
        last = i;
      }
      if (off > 0) text[off++] = 0x0a;
      off += bufs[s.file[first]!]!.copy(text, off, s.start[first], s.end[last]);
    }
    stores.set(store, { text, origin, lines: order.length });
  }
  return { files: [...files], stores, rejected };
}

/** Line indexes of one store in replay order (see splitByStore). */
function mergeOrder(s: StoreLines, bufs: readonly Buffer[]): number[] {
  const n = s.file.length;
  const all = Array.from({ length: n }, (_, i) => i);
  if (n === 0 || s.file.every((f) => f === s.file[0])) return all;
  // per file, its lines in file order with their arrival time
  const byFile = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    let list = byFile.get(s.file[i]!);
    if (!list) byFile.set(s.file[i]!, (list = []));
    list.push(i);
  }
  const key = new Float64Array(n);
  for (const [f, list] of byFile) {
    let prev = -Infinity;
    for (const i of list) {
      const t = timeIn(bufs[f]!, s.start[i]!, s.end[i]!);
      // a line without a time (refused later) keeps its place after the previous one
      key[i] = Number.isFinite(t) ? t : prev;
      prev = key[i]!;
    }
  }
  // the hub's day files: each file's times all before the next file's, so the merge is their
  // concatenation (in time order, the earlier file first on a tie)
  const spans = [...byFile].map(([f, list]) => {
    let min = Infinity;
    let max = -Infinity;
    for (const i of list) {
      min = Math.min(min, key[i]!);
      max = Math.max(max, key[i]!);
    }
    return { f, list, min, max };
  });
  spans.sort((a, b) => a.min - b.min || a.f - b.f);
  if (spans.every((s, k) => k === 0 || spans[k - 1]!.max < s.min || (spans[k - 1]!.max === s.min && spans[k - 1]!.f < s.f))) {
    return spans.flatMap((s) => s.list);
  }
  const heads = [...byFile.keys()].sort((a, b) => a - b).map((f) => ({ list: byFile.get(f)!, at: 0 }));
  const out: number[] = [];
  // overlapping files are rare (two recordings of a store): scanning the heads is enough
  for (;;) {
    let best = -1;
    for (let h = 0; h < heads.length; h++) {
      const hd = heads[h]!;
      if (hd.at >= hd.list.length) continue;
      if (best < 0 || key[hd.list[hd.at]!]! < key[heads[best]!.list[heads[best]!.at]!]!) best = h;
    }
    if (best < 0) return out;
    const hd = heads[best]!;
    out.push(hd.list[hd.at++]!);
  }
}

/** recvtime, else time, of one line (ms), NaN when neither is found */
function timeIn(buf: Buffer, start: number, end: number): number {
  for (const mark of [RECV_MARK, TIME_MARK]) {
    const at = buf.indexOf(mark, start);
    if (at < 0 || at >= end) continue;
    const s = at + mark.length;
    const e = buf.indexOf(QUOTE, s);
    if (e < 0 || e > end) continue;
    const t = Date.parse(buf.toString('latin1', s, e));
    if (Number.isFinite(t)) return t;
  }
  return NaN;
}

// ---------------------------------------------------------------------------
// Worker pool

/**
 * The worker for this build: under tsx (development) the sources are .ts and Node 20 does not
 * apply tsx's `--import` hooks to a worker's entry file (not even with execArgv), so a small
 * JS entry registers tsx in the worker first; compiled to dist/*.js the worker is plain JS.
 */
function startWorker(): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./replay-worker.js', here));
  const target = new URL('./replay-worker.ts', here).href;
  // CommonJS-compatible eval code: dynamic import works whatever Node decides the code is
  const code = `import(${JSON.stringify(tsxEsmApi(here))}).then((m) => { m.register(); return import(${JSON.stringify(target)}); });`;
  return new Worker(code, { eval: true });
}

/**
 * The URL of tsx's ESM API (`tsx/esm/api`). tsx compiles this file as CommonJS when the entry
 * is CommonJS, and then import.meta has no resolve: read the package's exports instead (its
 * CommonJS build cannot register the ESM hooks from a worker).
 */
function tsxEsmApi(from: string): string {
  const meta: { resolve?: (specifier: string) => string } = import.meta;
  if (typeof meta.resolve === 'function') return meta.resolve('tsx/esm/api');
  const pkgFile = createRequire(from).resolve('tsx/package.json');
  const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8')) as { exports?: Record<string, { import?: { default?: string } | string }> };
  const entry = pkg.exports?.['./esm/api']?.import;
  const file = typeof entry === 'string' ? entry : entry?.default;
  if (!file) throw new Error(`${pkgFile}: no ESM entry for tsx/esm/api`);
  return pathToFileURL(path.join(path.dirname(pkgFile), file)).href;
}

export interface StoreRun {
  store: string;
  result: ReplayResult;
  origin: Int32Array;
  ms: number;
}

/** Runs the tasks, largest first, on `jobs` workers; results in the main thread. */
export async function runPool(tasks: ReadonlyArray<{ task: ReplayTask; origin: Int32Array }>, jobs: number): Promise<StoreRun[]> {
  const queue = [...tasks].sort((a, b) => b.task.text.byteLength - a.task.text.byteLength);
  const results: StoreRun[] = [];
  const size = Math.max(1, Math.min(jobs, queue.length));
  const one = async (): Promise<void> => {
    const w = startWorker();
    try {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const { task, origin } = next;
        const reply = await new Promise<ReplayReply>((resolve, reject) => {
          const onExit = (code: number) => reject(new Error(`replay worker for store ${task.store} exited with code ${code}`));
          w.once('message', (m: ReplayReply) => {
            w.off('error', reject);
            w.off('exit', onExit);
            resolve(m);
          });
          w.once('error', reject);
          w.once('exit', onExit);
          w.postMessage(task, [task.text]);
        });
        if (!reply.ok) {
          queue.length = 0; // the other workers stop after their current store
          throw new Error(`replay of store ${reply.store} failed: ${reply.error}`);
        }
        results.push({ store: reply.store, result: reply.result, origin, ms: reply.ms });
      }
    } finally {
      await w.terminate();
    }
  };
  await Promise.all(Array.from({ length: size }, one));
  return results.sort((a, b) => (a.store < b.store ? -1 : a.store > b.store ? 1 : 0));
}

// ---------------------------------------------------------------------------
// Chain figures

export type ChainReport = Omit<Report, 'store'> & { stores: string[] };

const FAR = 8.64e15; // the largest valid Date: the chain's own period filter is each store's

/**
 * The chain: all stores' visits together, each store's counted as in its own report (its
 * period, store-local days). Counts are sums; serviceLevel, serviceLevelStrict, asgS and the
 * nearest-rank p50S/p90S/maxS are computed over all those visits (not averaged over stores);
 * byHour and byWeekday use each store's local time; byStaff keys are `store/staff` (staff ids
 * are per store file). buildReport does the arithmetic, so the definitions stay those of a
 * store report (CONTRACT.md "Metrics").
 */
export function chainReport(parts: ReadonlyArray<{ store: string; tz: TimeZone; report: Report; visits: readonly Visit[] }>): ChainReport {
  const visits: Visit[] = [];
  for (const p of parts) {
    const from = Date.parse(p.report.from);
    const to = Date.parse(p.report.to);
    for (const v of p.visits) {
      const t = Date.parse(v.entryTime);
      if (!(t >= from && t < to)) continue;
      // wall time as if UTC: hour and weekday in the store's own zone; party ids per store
      // only what buildReport reads
      const c: Visit = { store: v.store, party: `${p.store}\u0000${v.party}`, outcome: v.outcome, entryTime: new Date(p.tz.localMs(t)).toISOString(), size: v.size };
      if (v.ttgS !== undefined) c.ttgS = v.ttgS;
      if (v.staff !== undefined) c.staff = `${p.store}/${v.staff}`;
      visits.push(c);
    }
  }
  const { store: _store, ...r } = buildReport({ store: 'chain', fromMs: -FAR, toMs: FAR, tz: storeTimeZone('UTC'), visits });
  const froms = parts.map((p) => p.report.from).sort();
  const tos = parts.map((p) => p.report.to).sort();
  return {
    stores: parts.map((p) => p.store),
    ...r,
    from: froms[0] ?? new Date(0).toISOString(),
    to: tos[tos.length - 1] ?? new Date(0).toISOString(),
    orphanGreets: parts.reduce((s, p) => s + p.report.orphanGreets, 0),
  };
}

// ---------------------------------------------------------------------------
// The command

export async function replayWhatIf(args: string[], io: WhatIfIo): Promise<number> {
  const { values: v, positionals } = parse(args);
  if (!positionals.length || !v.config?.length) throw usage('needs trace files or a folder, and --config <store.yaml> for each store');
  if (v.json && v.table) throw usage('--json and --table exclude each other');
  const jobs = v.jobs === undefined ? os.availableParallelism() : Number(v.jobs);
  if (!Number.isInteger(jobs) || jobs < 1) throw usage(`--jobs: expected a whole number of at least 1, got '${v.jobs}'`);
  const overrides = parseRuleOverrides(v.rules ?? []);

  const configs = new Map<string, { cfg: StoreConfig; file: string; tz: TimeZone }>();
  for (const file of v.config.flatMap((c) => c.split(',')).filter((c) => c !== '')) {
    const resolved = resolveConfig(file);
    const base = resolved.config;
    const prev = configs.get(base.store.id);
    if (prev) throw usage(`--config ${file}: store '${base.store.id}' is already given by ${prev.file}`);
    configs.set(base.store.id, { cfg: applyRules(resolved, overrides), file, tz: storeTimeZone(base.store.timezone) });
  }

  const t0 = performance.now();
  const files = collectTraceFiles(positionals);
  const split = splitByStore(files);
  const tSplit = performance.now();

  const tasks: Array<{ task: ReplayTask; origin: Int32Array }> = [];
  const skipped: Record<string, number> = {};
  for (const [store, s] of [...split.stores].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const c = configs.get(store);
    if (!c) {
      skipped[store] = s.lines;
      continue;
    }
    const period = {
      ...(v.from !== undefined ? { fromMs: parseTimeParam('from', v.from, c.tz) } : {}),
      ...(v.to !== undefined ? { toMs: parseTimeParam('to', v.to, c.tz) } : {}),
    };
    // its own ArrayBuffer, so it can be transferred rather than copied
    const text = s.text.buffer.byteLength === s.text.byteLength ? (s.text.buffer as ArrayBuffer) : s.text.slice().buffer;
    tasks.push({ task: { store, cfg: c.cfg, period, text }, origin: s.origin });
  }
  for (const [store, n] of Object.entries(skipped)) {
    io.err(`greetwatch replay: ${n} lines of store '${store}' skipped: no --config for it [${ErrorCodes.UNKNOWN_STORE}]`);
  }
  for (const [store, c] of configs) if (!split.stores.has(store)) io.err(`greetwatch replay: no events of store '${store}' (${c.file}) in the traces`);
  if (!tasks.length) throw usage(`no events of the stores given by --config (${[...configs.keys()].join(', ')}) in ${files.length} trace file(s)`);

  const runs = await runPool(tasks, jobs);
  const tEnd = performance.now();

  // refused lines, as the single-file replay prints them: file:line code: reason
  const rejected: Rejection[] = [...split.rejected];
  for (const r of runs) {
    for (const x of r.result.rejected) rejected.push({ file: r.origin[2 * (x.line - 1)]!, line: r.origin[2 * (x.line - 1) + 1]!, code: x.code, reason: x.reason });
  }
  rejected.sort((a, b) => a.file - b.file || a.line - b.line);
  for (const r of rejected) io.err(`${files[r.file]!}:${r.line} ${r.code}: ${r.reason}`);

  const chain = chainReport(runs.map((r) => ({ store: r.store, tz: configs.get(r.store)!.tz, report: r.result.report, visits: r.result.visits })));
  const events = runs.reduce((s, r) => s + r.result.events + r.result.duplicates, 0);
  if (v.json) {
    const stores: Record<string, Report & { visitList?: Visit[] }> = {};
    for (const r of runs) stores[r.store] = v.visits ? { ...r.result.report, visitList: r.result.visits } : r.result.report;
    const out = { rules: overrides, stores, chain, ...(Object.keys(skipped).length ? { skipped } : {}) };
    io.out(JSON.stringify(out, null, 2) + '\n');
  } else {
    io.out(formatTable(runs, configs, chain, overrides));
  }
  if (v.stats) {
    const tOut = performance.now();
    const s = (ms: number) => (ms / 1000).toFixed(2);
    io.err(
      `greetwatch replay: ${events} events of ${runs.length} store(s) from ${files.length} file(s) in ${s(tOut - t0)} s ` +
        `(read and split ${s(tSplit - t0)} s, replay ${s(tEnd - tSplit)} s on ${Math.min(jobs, runs.length)} of ${jobs} worker(s), ` +
        `chain and output ${s(tOut - tEnd)} s): ${Math.round(events / ((tOut - t0) / 1000))} events/s; ` +
        `per store: ${runs.map((r) => `${r.store} ${s(r.ms)} s`).join(', ')}`,
    );
  }
  return 0;
}

// ---------------------------------------------------------------------------
// The table

const pct = (x: number | null) => (x === null ? '–' : `${(x * 100).toFixed(1)}%`);
const secs = (x: number | null) => (x === null ? '–' : x.toFixed(1));

/** the report period in the store's local time: whole days as dates (the last one inclusive), else date and time */
function localPeriod(fromIso: string, toIso: string, tz: TimeZone): { first: string; last: string } {
  const fmt = (ms: number, time: boolean) => {
    const p = tz.parts(ms);
    const d = `${p.year}-${String(p.month).padStart(2, '0')}-${String(p.day).padStart(2, '0')}`;
    return time ? `${d} ${String(p.hour).padStart(2, '0')}:${String(p.minute).padStart(2, '0')}` : d;
  };
  const from = Date.parse(fromIso);
  const to = Date.parse(toIso);
  if (tz.startOfDay(from) !== from || tz.startOfDay(to) !== to) return { first: fmt(from, true), last: fmt(to, true) };
  return { first: fmt(from, false), last: fmt(to - 1, false) };
}

const showPeriod = (p: { first: string; last: string }) => (p.first === p.last ? p.first : `${p.first} – ${p.last}`);

function formatTable(runs: readonly StoreRun[], configs: ReadonlyMap<string, { tz: TimeZone }>, chain: ChainReport, overrides: Partial<Rules>): string {
  const head = ['store', 'period (local)', 'visits', 'met', 'late', 'walkout', 'short', 'missed', 'pending', 'service', 'strict', 'asg s', 'p50 s', 'p90 s', 'max s', 'orphans'];
  const row = (name: string, period: string, r: Omit<Report, 'store'>) => [
    name,
    period,
    String(r.visits),
    String(r.met),
    String(r.late),
    String(r.walkouts),
    String(r.shortWalkouts),
    String(r.missed),
    String(r.pending),
    pct(r.serviceLevel),
    pct(r.serviceLevelStrict),
    secs(r.asgS),
    secs(r.p50S),
    secs(r.p90S),
    secs(r.maxS),
    String(r.orphanGreets),
  ];
  const periods = runs.map((r) => localPeriod(r.result.report.from, r.result.report.to, configs.get(r.store)!.tz));
  const rows = runs.map((r, i) => row(r.store, showPeriod(periods[i]!), r.result.report));
  if (runs.length > 1) {
    // each store's own local days; the chain spans from the first to the last
    const all = { first: periods.map((p) => p.first).sort()[0]!, last: periods.map((p) => p.last).sort()[periods.length - 1]! };
    rows.push(row(`chain (${runs.length})`, showPeriod(all), chain));
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  const rules = Object.entries(overrides).map(([k, val]) => `${k}=${JSON.stringify(val)}`);
  const title = rules.length ? `what-if rules: ${rules.join(', ')} (the rest as in each store file)` : 'rules as in each store file';
  const out = [title, '', line(head), ...rows.slice(0, runs.length).map(line)];
  if (runs.length > 1) out.push(line(widths.map((w) => '-'.repeat(w))), line(rows[rows.length - 1]!));
  out.push('', 'service = met / (visits − short walkouts), strict = met / visits; times to greet in seconds (CONTRACT.md "Metrics").');
  if (runs.length > 1) out.push('chain: counts summed; service levels and times to greet over all stores\' visits together.');
  return out.join('\n') + '\n';
}
