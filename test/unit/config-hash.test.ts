import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, GwError } from '../../contract/errors.ts';
import { canonicalJson, configHash, nodeEffectiveConfig } from '../../firmware-config/hash.ts';
import { loadConfig, parseConfig } from '../../firmware-config/load.ts';

const demo = () => loadConfig(join(import.meta.dirname, '../../firmware-config/examples/demo-store.yaml'));

describe('canonicalJson / configHash', () => {
  it('sorts keys at every level and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}');
    expect(canonicalJson({ u: undefined, a: [undefined] })).toBe('{"a":[null]}');
    expect(canonicalJson({ '10': 1, '9': 2 })).toBe('{"10":1,"9":2}');
  });

  it('is 12 hex digits and independent of key order', () => {
    const h = configHash({ a: 1, b: [1, 2] });
    expect(h).toMatch(/^[0-9a-f]{12}$/);
    expect(configHash({ b: [1, 2], a: 1 })).toBe(h);
    expect(configHash({ a: 1, b: [2, 1] })).not.toBe(h);
  });

  it('rejects cycles', () => {
    const o: Record<string, unknown> = {};
    o.self = o;
    expect(() => canonicalJson(o)).toThrow(/cyclic/);
  });
});

describe('nodeEffectiveConfig', () => {
  it('holds the store id, the node, the rules a node needs and its hash', () => {
    const cfg = demo();
    const eff = nodeEffectiveConfig(cfg, 'counter-1');
    expect(eff.store).toBe('demo');
    expect(eff.node).toEqual(cfg.nodes[1]);
    expect(eff.rules).toEqual({ greetWithinS: 30, warnAtS: 20 });
    const { cfghash, ...body } = eff;
    expect(cfghash).toBe(configHash(body));
    // what goes on the wire survives a JSON round trip with the same hash
    const wire = JSON.parse(JSON.stringify(eff)) as typeof eff;
    const { cfghash: h2, ...body2 } = wire;
    expect(configHash(body2)).toBe(h2);
  });

  it('changes only for the node whose part changed', () => {
    const text = `store: { id: s }\nnodes:\n  - { id: a, sensors: [{ id: d, kind: door, pin: 1 }] }\n  - { id: b }\n`;
    const before = parseConfig(text, 's.yaml');
    const after = parseConfig(text.replace('pin: 1', 'pin: 2'), 's.yaml');
    expect(nodeEffectiveConfig(after, 'a').cfghash).not.toBe(nodeEffectiveConfig(before, 'a').cfghash);
    expect(nodeEffectiveConfig(after, 'b').cfghash).toBe(nodeEffectiveConfig(before, 'b').cfghash);
    // key order in the file does not matter
    const reordered = parseConfig(text.replace('{ id: d, kind: door, pin: 1 }', '{ pin: 1, kind: door, id: d }'), 's.yaml');
    expect(nodeEffectiveConfig(reordered, 'a').cfghash).toBe(nodeEffectiveConfig(before, 'a').cfghash);
    // a node-relevant rule changes every node's hash
    const rules = parseConfig(text + 'rules: { warnAtS: 10 }\n', 's.yaml');
    expect(nodeEffectiveConfig(rules, 'b').cfghash).not.toBe(nodeEffectiveConfig(before, 'b').cfghash);
  });

  it('does not share objects with the config', () => {
    const cfg = demo();
    const eff = nodeEffectiveConfig(cfg, 'door-1');
    eff.node.sensors.length = 0;
    expect(cfg.nodes[0]!.sensors.length).toBeGreaterThan(0);
  });

  it('throws GW_ERR_UNKNOWN_NODE for a node the store lacks', () => {
    const call = () => nodeEffectiveConfig(demo(), 'nope');
    expect(call).toThrow(GwError);
    expect(call).toThrow(expect.objectContaining({ code: ErrorCodes.UNKNOWN_NODE }));
  });
});
