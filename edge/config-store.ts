import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { ErrorCodes, GwError } from '../contract/errors.ts';
import type { ReceivedNodeConfig } from './node-config.ts';

// The last good config of a node, <dataDir>/config.json: the hub's payload as received, so a
// node that boots without a broker runs what it ran before (README "Configuration"). Written
// atomically (temp file, fsync, rename, fsync of the folder): a power cut leaves the old file
// or the new one, never half of one.

export const CONFIG_FILE = 'config.json';

const storeError = (file: string, what: string, err: unknown): GwError =>
  new GwError(ErrorCodes.CONFIG_STORE_IO, `${file}: cannot ${what} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });

/** The stored payload, parsed but not checked (checkNodeConfig does that); null when there is none. Throws CONFIG_STORE_IO. */
export async function readStoredConfig(dir: string): Promise<unknown> {
  const file = path.join(dir, CONFIG_FILE);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw storeError(file, 'read the stored config', err);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new GwError(ErrorCodes.CONFIG_STORE_IO, `${file}: stored config is not JSON (${(err as Error).message})`, { cause: err });
  }
}

/** Replaces <dir>/config.json atomically; throws CONFIG_STORE_IO. */
export async function writeStoredConfig(dir: string, config: ReceivedNodeConfig): Promise<void> {
  const file = path.join(dir, CONFIG_FILE);
  const tmp = `${file}.tmp`;
  try {
    await fs.mkdir(dir, { recursive: true });
    const fh = await fs.open(tmp, 'w');
    try {
      await fh.writeFile(JSON.stringify(config) + '\n', 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, file);
    // the rename is durable only once the folder's entry is on disk
    const dh = await fs.open(dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw storeError(file, 'write the config', err);
  }
}
