import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import mqtt from 'mqtt';
import { parseSource, topics, type GwEvent } from '../../contract/index.ts';
import { repoRoot } from '../../hub/repo-root.ts';
import { password } from './logins.ts';
import { waitFor } from './wait.ts';

// A hub run as a child process (`greetwatch hub`), for tests that kill it with -9
// (README "Reliability"); its store file comes from childHubStoreFile (logins.ts).

/** starts `greetwatch hub --config cfgFile` and resolves once its /healthz answers */
export async function startHubChild(cfgFile: string, httpUrl: string): Promise<ChildProcess> {
  const bin = path.join(repoRoot(), 'bin', 'greetwatch.mjs');
  const p = spawn(process.execPath, [bin, 'hub', '--config', cfgFile], { env: { ...process.env, LOG_LEVEL: 'warn', INFLUX_URL: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  p.stderr.on('data', (d: Buffer) => (err += d.toString()));
  await waitFor(async () => {
    if (p.exitCode !== null) throw new Error(`hub exited ${p.exitCode}: ${err}`);
    try {
      return (await fetch(`${httpUrl}/healthz`)).ok;
    } catch {
      return false;
    }
  }, 'hub up', 30_000, 100);
  return p;
}

/** publishes each event as its own node (its own login, README "Security") and resolves on its PUBACK: traced */
export async function publishAcked(url: string, events: GwEvent[]): Promise<void> {
  for (const e of events) {
    const src = parseSource(e.source);
    if (!src) throw new Error(`not a node source: ${e.source}`);
    const c = await mqtt.connectAsync(url, { username: src.node, password: password(src.node), reconnectPeriod: 0 });
    await c.publishAsync(topics.events(src.store, src.node), JSON.stringify(e), { qos: 1 });
    await c.endAsync();
  }
}
