import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { canonicalJson, configHash, type NodeRules } from '../firmware-config/hash.ts';
import { Node, Rules, type Node as NodeConfig } from '../firmware-config/schema.ts';

// A node's config as the hub publishes it, retained, on greetwatch/v1/{store}/{node}/config
// (CONTRACT.md "MQTT topics"): {store, node, rules: {greetWithinS, warnAtS}, cfghash}, made by
// nodeEffectiveConfig (firmware-config/hash.ts). Checking one, and telling what a change
// between two of them touches, live here so the agent only decides what to do about it.

/** The payload as received: <dataDir>/config.json keeps exactly this, so the cfghash checks again on load. */
export interface ReceivedNodeConfig {
  store: string;
  node: Record<string, unknown>;
  rules: Record<string, unknown>;
  cfghash: string;
}

export interface AcceptedNodeConfig {
  received: ReceivedNodeConfig;
  /** the node part with the schema defaults applied: what the agent runs */
  node: NodeConfig;
  rules: NodeRules;
  cfghash: string;
}

/** A refusal keeps the cfghash the payload claimed (null when it had none), for the node's stats. */
export type NodeConfigCheck = { ok: true; config: AcceptedNodeConfig } | { ok: false; reason: string; cfghash: string | null };

// Extra rules are allowed: the contract lets the hub add optional fields; the hash covers them.
const NodeRulesSchema = Type.Object({ greetWithinS: Rules.properties.greetWithinS, warnAtS: Rules.properties.warnAtS });

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `/sensors/0/pin` → `sensors[0].pin` */
function pointerPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`))
    .join('')
    .replace(/^\./, '');
}

/**
 * Value.Default fills what is missing, but it also replaces a value of the wrong kind by the
 * default (`sensors: {a: 1}` becomes `[]` and then passes Check): a config must keep every
 * value it was sent.
 */
function keptAsSent(sent: unknown, withDefaults: unknown): boolean {
  if (Array.isArray(sent)) {
    return Array.isArray(withDefaults) && sent.length === withDefaults.length && sent.every((v, i) => keptAsSent(v, withDefaults[i]));
  }
  if (isRecord(sent)) return isRecord(withDefaults) && Object.keys(sent).every((k) => keptAsSent(sent[k], withDefaults[k]));
  return Object.is(sent, withDefaults);
}

/**
 * Checks a config payload for this node: its store and node must be ours, its cfghash must
 * be configHash({store, node, rules}) of what came, and its node part must pass the Node
 * schema once the defaults are applied. The reason names the first problems found.
 */
export function checkNodeConfig(value: unknown, expect: { store: string; node: string }): NodeConfigCheck {
  const claimed = isRecord(value) && typeof value.cfghash === 'string' ? value.cfghash : null;
  const refuse = (reason: string): NodeConfigCheck => ({ ok: false, reason, cfghash: claimed });
  if (!isRecord(value)) return refuse('not a node config: expected a JSON object {store, node, rules, cfghash}');
  const { store, node, rules, cfghash } = value;
  if (typeof store !== 'string' || !isRecord(node) || !isRecord(rules) || typeof cfghash !== 'string') {
    return refuse('not a node config: expected {store: string, node: object, rules: object, cfghash: string}');
  }
  if (store !== expect.store) return refuse(`config for store '${store}', this node belongs to store '${expect.store}'`);
  if (node.id !== expect.node) return refuse(`config for node '${String(node.id)}', this node is '${expect.node}'`);
  const computed = configHash({ store, node, rules });
  if (computed !== cfghash) return refuse(`cfghash ${cfghash} does not match the config it came with (${computed})`);
  if (!Value.Check(NodeRulesSchema, rules)) {
    const why = [...Value.Errors(NodeRulesSchema, rules)].slice(0, 3).map((e) => `rules.${pointerPath(e.path)}: ${e.message}`);
    return refuse(`invalid rules: ${why.join('; ')}`);
  }
  const full: unknown = Value.Default(Node, structuredClone(node));
  if (!Value.Check(Node, full)) {
    const why = [...Value.Errors(Node, full)].slice(0, 3).map((e) => `node.${pointerPath(e.path)}: ${e.message}`);
    return refuse(`invalid node config: ${why.join('; ')}`);
  }
  if (!keptAsSent(node, full)) return refuse('invalid node config: a value has the wrong type (a list or object expected)');
  return {
    ok: true,
    config: {
      received: { store, node, rules, cfghash },
      node: full,
      rules: { greetWithinS: rules.greetWithinS, warnAtS: rules.warnAtS },
      cfghash,
    },
  };
}

/** The node fields that choose and set up the driver itself: a change in any of them re-opens the driver. */
const DRIVER_FIELDS = ['driver', 'board', 'gpioChip', 'serialPort'] as const;

export interface ConfigChange {
  /** close the driver (every pin) and open one for the new config */
  reopenDriver: boolean;
  /** the indicator's pins or wiring changed */
  reopenIndicator: boolean;
  /** top-level node fields that differ, for the log */
  changed: string[];
}

/** What moving from `prev` to `next` touches; with no `prev` everything opens. */
export function configChange(prev: NodeConfig | null, next: NodeConfig): ConfigChange {
  if (!prev) return { reopenDriver: true, reopenIndicator: true, changed: Object.keys(next) };
  const same = (k: keyof NodeConfig): boolean => canonicalJson(prev[k] ?? null) === canonicalJson(next[k] ?? null);
  const keys = [...new Set([...Object.keys(prev), ...Object.keys(next)])] as Array<keyof NodeConfig>;
  return {
    reopenDriver: DRIVER_FIELDS.some((k) => !same(k)),
    reopenIndicator: !same('indicator'),
    changed: keys.filter((k) => !same(k)),
  };
}
