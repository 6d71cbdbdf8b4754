import fs from 'node:fs';
import path from 'node:path';
import { hashPassword } from '../../firmware-config/passwords.ts';
import { freePort } from '../../hub/influxd.ts';
import type { StoreConfig } from '../../firmware-config/schema.ts';
import { noonZone } from './noon-zone.ts';

// Real broker logins for tests (README "Security": every node logs in with its own login):
// each node of a config gets `mqtt.passwordHash` for the password `password(node)`, and a
// read-only user `reader` is added. Hashes are made once per process (scrypt is slow on purpose).
// A store file with a user is no longer open over HTTP (README "Security → Logins and roles"):
// the configs made here also carry API_TOKEN, and tests read the API with `apiAuth`.

const cache = new Map<string, Promise<string>>();
const hashOf = (pw: string) => {
  let h = cache.get(pw);
  if (!h) cache.set(pw, (h = hashPassword(pw)));
  return h;
};

export const password = (id: string) => `test-password-${id}`;
export const READER = 'reader';
/** a machine client's token (hub.tokens) in every config made here: the API as owner, across hub restarts */
export const API_TOKEN = 'test-api-token-0123456789abcdef';
/** headers for the hub's API with API_TOKEN */
export const apiAuth: Readonly<Record<string, string>> = { authorization: `Bearer ${API_TOKEN}` };

/** a copy of `cfg` with a login for every node, a read-only user (a manager) and API_TOKEN */
export async function withLogins(cfg: StoreConfig): Promise<StoreConfig> {
  const nodes = await Promise.all(cfg.nodes.map(async (n) => ({ ...n, mqtt: { passwordHash: await hashOf(password(n.id)) } })));
  const reader = { id: READER, role: 'manager' as const, passwordHash: await hashOf(password(READER)) };
  const tokens = cfg.hub.tokens.includes(API_TOKEN) ? cfg.hub.tokens : [...cfg.hub.tokens, API_TOKEN];
  return { ...cfg, nodes, users: [...cfg.users.filter((u) => u.id !== READER), reader], hub: { ...cfg.hub, tokens } };
}

/** a dashboard user of the store file, with the password `password(id)` */
export async function userLogin(id: string, role: 'manager' | 'owner', name?: string): Promise<StoreConfig['users'][number]> {
  return { id, role, passwordHash: await hashOf(password(id)), ...(name !== undefined ? { name } : {}) };
}

/** mqtt.js options to log in as a node (with its reserved client id) or as the reader */
export function loginAs(cfg: StoreConfig, id: string): { username: string; password: string; clientId?: string } {
  const isNode = cfg.nodes.some((n) => n.id === id);
  return { username: id, password: password(id), ...(isNode ? { clientId: `gw-${cfg.store.id}-${id}` } : {}) };
}

/** mqtt://user:password@host:port, for command lines (mqtt.js reads the login from the URL) */
export function urlWithLogin(url: string, id: string): string {
  const u = new URL(url);
  u.username = id;
  u.password = password(id);
  return u.toString().replace(/\/$/, '');
}

/**
 * A store file for a hub run as a child process (kill -9 tests): two nodes with their MQTT
 * logins, a manager, API_TOKEN, free ports, no history. Returns the file and the hub's URLs.
 */
export async function childHubStoreFile(dir: string, store: string): Promise<{ cfgFile: string; httpUrl: string; mqttUrl: string }> {
  const [h, m] = [await freePort(), await freePort()];
  const cfgFile = path.join(dir, 'store.yaml');
  const login = async (id: string) => `{ passwordHash: '${await hashOf(password(id))}' }`;
  fs.writeFileSync(
    cfgFile,
    `store: { id: ${store}, timezone: ${noonZone()} }\nrules: { greetWithinS: 60, reorderS: 0.5, groupWindowS: 0.3 }\nstaff: [{ id: anna }, { id: ben }]\n` +
      `nodes:\n  - { id: door, mqtt: ${await login('door')} }\n  - { id: counter, mqtt: ${await login('counter')} }\n` +
      `users:\n  - { id: reader, role: manager, passwordHash: '${await hashOf(password('reader'))}' }\n` +
      `hub:\n  mqtt: { port: ${m} }\n  http: { port: ${h} }\n  influx: { managed: false }\n  dataDir: data\n  tokens: [${API_TOKEN}]\n`,
  );
  return { cfgFile, httpUrl: `http://127.0.0.1:${h}`, mqttUrl: `mqtt://127.0.0.1:${m}` };
}
