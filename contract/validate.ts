import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { TSchema } from '@sinclair/typebox';
import { ErrorCodes, type ErrorCode } from './errors.ts';
import { EVENT_DATA, Envelope, NodeStatus, NodeCmd, type EventType, type GwEvent } from './events.ts';
import { parseSource } from './topics.ts';

// Runtime validator for CONTRACT.md events. Compiled once per process (TypeCompiler
// turns schemas into plain JS checks: the hub validates every event on the hot path).

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

/** Parses JSON text; the error says what is wrong. */
export function parseJson(payload: string | Uint8Array): Validated<unknown> {
  const text = typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8');
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
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
  if (!Number.isFinite(Date.parse(env.time))) {
    return { ok: false, code: ErrorCodes.EVENT_ENVELOPE, reason: `time: not a real date: ${env.time}` };
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
