import { expect } from 'vitest';
import { ConfigError, parseConfig } from '../../firmware-config/load.ts';
import type { StoreConfig } from '../../firmware-config/schema.ts';
import { withLogins } from './logins.ts';

// A store file for a test, read by the hub's own loader (firmware-config/load.ts), so a test's
// store is checked as a real one is: defaults filled in, and an invalid one fails with the
// loader's `file:line:col path: message` instead of reaching the hub half-typed. The hub listens
// on loopback with ports picked by the system and without a managed influxd unless `hub` says
// otherwise (each key of `hub` replaces the default one whole); every node gets its login
// (./logins.ts) unless `logins: false` keeps the store as written (open mode, login tests).

/** a store file's content as a test writes it (JSON is YAML) */
export type StoreInput = { readonly hub?: Readonly<Record<string, unknown>> } & Readonly<Record<string, unknown>>;

/** the store as the loader reads it, without the test logins */
export function loadedStore(input: StoreInput): StoreConfig {
  const hub = { mqtt: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 }, influx: { managed: false }, ...input.hub };
  return parseConfig(JSON.stringify({ ...input, hub }), 'test-store.yaml');
}

/** the store as the loader reads it, with a login for every node, a reader and API_TOKEN */
export async function testStore(input: StoreInput): Promise<StoreConfig> {
  return withLogins(loadedStore(input));
}

/** the loader's refusal of a store file's text (its message: one `file:line:col path: message` per problem); fails the test if it is accepted */
export function configRefusal(text: string, file = 'store.yaml'): string {
  try {
    parseConfig(text, file);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`expected ${file} to be refused`);
}
