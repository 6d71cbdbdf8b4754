import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { ErrorCodes, GwError } from '../contract/errors.ts';
import type { Node, Rules, StoreConfig } from './schema.ts';

// The node config the hub publishes retained on greetwatch/v1/{store}/{node}/config,
// and the hash a node echoes as `cfghash` in its status so the hub can tell whether
// the node runs the config it was sent.

/**
 * RFC 8785 canonical JSON (the `canonicalize` package): object keys sorted at every level,
 * so the same config hashes the same whatever order the YAML listed its keys in.
 */
export function canonicalJson(value: unknown): string {
  try {
    return canonicalize(value) ?? 'null';
  } catch (err) {
    // the package recurses without a guard: a cycle ends in a stack overflow
    if (err instanceof RangeError) throw new TypeError('canonicalJson: cyclic value (or nested too deeply)', { cause: err });
    throw err;
  }
}

/** First 12 hex digits of sha256(canonicalJson(value)): short enough for a status payload, ample for one store. */
export function configHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value), 'utf8').digest('hex').slice(0, 12);
}

/** The rules that travel with a node's config; the hub applies every rule itself (indicators follow its `cmd`). */
export type NodeRules = Pick<Rules, 'greetWithinS' | 'warnAtS'>;

export interface NodeEffectiveConfig {
  store: string;
  /** the node's config without its MQTT login */
  node: Omit<Node, 'mqtt'>;
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
  // the node's login stays on the hub: a node holds its own password in its bootstrap file
  const { mqtt: _login, ...withoutLogin } = node;
  const body = {
    store: cfg.store.id,
    node: structuredClone(withoutLogin),
    rules: { greetWithinS: cfg.rules.greetWithinS, warnAtS: cfg.rules.warnAtS },
  };
  return { ...body, cfghash: configHash(body) };
}
