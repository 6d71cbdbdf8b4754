import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

// The DIY peer's software, installed outside the project's dependencies: Mosquitto from the
// distribution (apt), Node-RED and node-red-contrib-influxdb with npm into a scratch folder
// that is kept across runs (GREETWATCH_BENCH_PEER_DIR, default ~/.cache/greetwatch-bench/peer).

const run = promisify(execFile);

export interface PeerInstall {
  dir: string;
  mosquitto: string;
  mosquittoVersion: string;
  /** node-red's red.js, run with this Node */
  nodeRed: string;
  nodeRedVersion: string;
  influxNodeVersion: string;
}

export const PEER_DIR = process.env.GREETWATCH_BENCH_PEER_DIR ?? path.join(os.homedir(), '.cache', 'greetwatch-bench', 'peer');

function onPath(name: string, extra: readonly string[] = []): string | null {
  for (const dir of [...(process.env.PATH ?? '').split(path.delimiter), ...extra]) {
    if (!dir) continue;
    const f = path.join(dir, name);
    try {
      fs.accessSync(f, fs.constants.X_OK);
      return f;
    } catch {
      // not here
    }
  }
  return null;
}

const version = (pkgJson: string) => (JSON.parse(fs.readFileSync(pkgJson, 'utf8')) as { version: string }).version;

async function installMosquitto(say: (line: string) => void): Promise<string> {
  const found = onPath('mosquitto', ['/usr/sbin', '/usr/local/sbin']);
  if (found) return found;
  say('peer: installing mosquitto (apt-get install -y mosquitto)…');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    await run('apt-get', ['install', '-y', '-q', 'mosquitto'], { env, timeout: 300_000, maxBuffer: 16 << 20 });
  } catch {
    // a stale package list is the usual cause
    await run('apt-get', ['update', '-q'], { env, timeout: 300_000, maxBuffer: 16 << 20 });
    await run('apt-get', ['install', '-y', '-q', 'mosquitto'], { env, timeout: 300_000, maxBuffer: 16 << 20 });
  }
  // the package enables and may start a system broker on 1883: the bench runs its own, on a free port
  const quiet = async (cmd: string, args: string[]) => {
    try {
      await run(cmd, args, { timeout: 30_000 });
    } catch {
      // no systemd, or no such service: nothing to stop
    }
  };
  if (fs.existsSync('/run/systemd/system')) await quiet('systemctl', ['disable', '--now', 'mosquitto']);
  else {
    await quiet('systemctl', ['disable', 'mosquitto']);
    await quiet('service', ['mosquitto', 'stop']);
  }
  const bin = onPath('mosquitto', ['/usr/sbin', '/usr/local/sbin']);
  if (!bin) throw new Error('mosquitto is still not on PATH after apt-get install');
  return bin;
}

async function installNodeRed(dir: string, say: (line: string) => void): Promise<void> {
  const red = path.join(dir, 'node_modules', 'node-red', 'red.js');
  const influx = path.join(dir, 'node_modules', 'node-red-contrib-influxdb', 'package.json');
  if (fs.existsSync(red) && fs.existsSync(influx)) return;
  fs.mkdirSync(dir, { recursive: true });
  say(`peer: installing node-red and node-red-contrib-influxdb into ${dir} (npm, kept for later runs)…`);
  await run('npm', ['install', '--prefix', dir, '--no-audit', '--no-fund', '--loglevel=error', 'node-red', 'node-red-contrib-influxdb'], { timeout: 600_000, maxBuffer: 16 << 20 });
}

export async function installPeer(say: (line: string) => void, dir = PEER_DIR): Promise<PeerInstall> {
  const mosquitto = await installMosquitto(say);
  await installNodeRed(dir, say);
  let help = '';
  try {
    help = (await run(mosquitto, ['-h'], { timeout: 10_000 })).stdout;
  } catch (err) {
    // `mosquitto -h` prints its version and exits non-zero
    help = String((err as { stdout?: string }).stdout ?? '');
  }
  const mosquittoVersion = /mosquitto version (\S+)/.exec(help)?.[1] ?? 'unknown';
  return {
    dir,
    mosquitto,
    mosquittoVersion,
    nodeRed: path.join(dir, 'node_modules', 'node-red', 'red.js'),
    nodeRedVersion: version(path.join(dir, 'node_modules', 'node-red', 'package.json')),
    influxNodeVersion: version(path.join(dir, 'node_modules', 'node-red-contrib-influxdb', 'package.json')),
  };
}
