import { readFileSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { ErrorCodes, GwError } from '../contract/errors.ts';
import { Id } from '../contract/ids.ts';

// What a node holds on its own disk (README "Configuration"): which store and node it is, how
// to reach the hub's broker, and its MQTT login. Everything else comes from the hub on the
// retained `config` topic (CONTRACT.md "MQTT topics"). `greetwatch config node-bootstrap`
// writes this file; the password's scrypt hash goes into the store file's `nodes[].mqtt`.

export const NodeBootstrap = Type.Object(
  {
    store: Id('the store id'),
    node: Id('this node\'s id in the store config'),
    mqttUrl: Type.String({ pattern: '^mqtts?://', description: 'the hub broker, e.g. mqtt://192.168.1.10:1883' }),
    username: Type.String({ minLength: 1, maxLength: 64, description: 'MQTT username' }),
    password: Type.String({ minLength: 1, description: 'MQTT password (plain: the hub keeps only its hash)' }),
  },
  { additionalProperties: false },
);
export type NodeBootstrap = Static<typeof NodeBootstrap>;

/** Reads and checks a bootstrap file (YAML or JSON); errors read `file: message`, code CONFIG_PARSE or CONFIG_INVALID. */
export function loadBootstrap(file: string): NodeBootstrap {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (code ?? (err as Error).message);
    throw new GwError(ErrorCodes.CONFIG_PARSE, `${file}: cannot read bootstrap file (${why})`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = parseYaml(text); // YAML is a superset of JSON
  } catch (err) {
    throw new GwError(ErrorCodes.CONFIG_PARSE, `${file}: invalid YAML: ${(err as Error).message}`, { cause: err });
  }
  if (!Value.Check(NodeBootstrap, raw)) {
    const problems = [...Value.Errors(NodeBootstrap, raw)].map((e) => `${e.path ? e.path.slice(1).replaceAll('/', '.') : '(file)'}: ${e.message}`);
    throw new GwError(ErrorCodes.CONFIG_INVALID, `${file}: not a node bootstrap (store, node, mqttUrl, username, password): ${[...new Set(problems)].join('; ')}`);
  }
  return raw;
}
