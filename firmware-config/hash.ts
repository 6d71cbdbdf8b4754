import { createHash } from 'node:crypto';
import { ErrorCodes, GwError } from '../contract/errors.ts';
import type { Node, Rules, StoreConfig } from './schema.ts';

// The node config the hub publishes retained on greetwatch/v1/{store}/{node}/config,
// and the hash a node echoes as `cfghash` in its status so the hub can tell whether
// the node runs the config it was sent.

/**
 * JSON with object keys sorted (by UTF-16 code unit, as RFC 8785 does) at every level,
 * so the same config hashes the same whatever order the YAML listed its keys in.
 * Follows JSON.stringify otherwise: undefined members are dropped, toJSON is honoured.
 */
export function canonicalJson(value: unknown): string {
  const stack = new Set<object>();
  const enc = (v: unknown, inArray: boolean): string | undefined => {
    if (typeof v === 'object' && v !== null && 'toJSON' in v && typeof v.toJSON === 'function') {
      v = (v.toJSON as () => unknown)();
    }
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') return inArray ? 'null' : undefined;
    if (typeof v === 'bigint') throw new TypeError('canonicalJson: bigint is not JSON');
    if (typeof v !== 'object' || v === null) return JSON.stringify(v);
    if (stack.has(v)) throw new TypeError('canonicalJson: cyclic value');
    stack.add(v);
    let out: string;
    if (Array.isArray(v)) {
      out = `[${v.map((x) => enc(x, true)).join(',')}]`;
    } else {
      const rec = v as Record<string, unknown>;
      const parts: string[] = [];
      for (const k of Object.keys(rec).sort()) {
        const e = enc(rec[k], false);
        if (e !== undefined) parts.push(`${JSON.stringify(k)}:${e}`);
      }
      out = `{${parts.join(',')}}`;
    }
    stack.delete(v);
    return out;
  };
  return enc(value, false) ?? 'null';
}

/** First 12 hex digits of sha256(canonicalJson(value)): short enough for a status payload, ample for one store. */
export function configHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value), 'utf8').digest('hex').slice(0, 12);
}

/** Rules a node acts on locally (indicator timing); the hub applies all the others. */
export type NodeRules = Pick<Rules, 'greetWithinS' | 'warnAtS'>;

export interface NodeEffectiveConfig {
  store: string;
  node: Node;
  rules: NodeRules;
  /** configHash({store, node, rules}) */
  cfghash: string;
}

/**
 * The payload for topics.config(store, node). Only this node's part of the store config
 * goes in, so editing another node does not change this node's cfghash.
 * Throws GwError UNKNOWN_NODE when the config has no such node.
 */
export function nodeEffectiveConfig(cfg: StoreConfig, nodeId: string): NodeEffectiveConfig {
  const node = cfg.nodes.find((n) => n.id === nodeId);
  if (!node) throw new GwError(ErrorCodes.UNKNOWN_NODE, `store '${cfg.store.id}' has no node '${nodeId}'`);
  const body = {
    store: cfg.store.id,
    node: structuredClone(node),
    rules: { greetWithinS: cfg.rules.greetWithinS, warnAtS: cfg.rules.warnAtS },
  };
  return { ...body, cfghash: configHash(body) };
}
