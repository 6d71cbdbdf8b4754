import { Type, type Static } from '@sinclair/typebox';
import { Id } from '../contract/ids.ts';
import { loadYamlAs } from './load.ts';

// What a node holds on its own disk (README "Configuration"): which store and node it is, how
// to reach the hub's broker, and its MQTT login. Everything else comes from the hub on the
// retained `config` topic (CONTRACT.md "MQTT topics"). `greetwatch config node-bootstrap`
// writes this file (mode 0600); the password's scrypt hash goes into the store file.

/** What a node needs to log in to its hub's broker (firmware-config/README.md "Node logins"); the file is mode 0600. */
export const NodeBootstrap = Type.Object(
  {
    store: Id('the store id'),
    node: Id('this node'),
    mqttUrl: Type.String({ pattern: '^mqtts?://[^\\s/]+', description: 'mqtt://host:port or mqtts://host:port of the hub broker' }),
    username: Type.String({ minLength: 1, maxLength: 64 }),
    password: Type.String({ minLength: 16 }),
    /** the CA that signed the hub's certificate, for mqtts:// (greetwatch certs ca); default: the system's CAs */
    ca: Type.Optional(Type.String({ minLength: 1, description: 'PEM file of the CA that signed the hub certificate, relative to this file' })),
  },
  { additionalProperties: false },
);
export type NodeBootstrap = Static<typeof NodeBootstrap>;

/** Reads and checks a bootstrap file; problems throw ConfigError as `file:line:col path: message`. */
export function loadBootstrap(file: string): NodeBootstrap {
  return loadYamlAs(NodeBootstrap, file);
}
