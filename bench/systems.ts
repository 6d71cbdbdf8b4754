import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Value } from '@sinclair/typebox/value';
import type { LiveSnapshot } from '../contract/index.ts';
import { StoreConfig } from '../firmware-config/schema.ts';
import { freePort } from '../hub/influxd.ts';
import { apiAuth, password, withLogins } from '../test/helpers/logins.ts';
import { sseScreen, wsScreen, type Screen } from './screens.ts';
import { waitFor } from '../test/helpers/wait.ts';
import { startProc } from './procs.ts';
import { startPeer } from './peer/peer.ts';
import type { PeerInstall } from './peer/install.ts';

// The systems bench/compare.ts drives, each started fresh for every run in processes of its
// own: the greetwatch hub (its CLI), the DIY peer (bench/peer/), and a bare aedes.

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

export const STORE = 'bench';

export interface Running {
  mqttPort: number;
  pids(): number[];
  login(node: string): { username: string; password: string; clientId: string };
  /** events of this load that have landed (see each system) */
  landed(bootid: string): Promise<number>;
  /** a PUBACK means landed (greetwatch acknowledges after the trace write; bare aedes has nothing more) */
  ackIsLanded: boolean;
  /** connects a screen; `seen(party)` for each party (`<node>/<entry id>`) as it shows */
  screen?(seen: (party: string) => void): Promise<Screen>;
  /**
   * parties the system opened (as of the last landed()): an entry within groupWindowS of the one
   * before (after clock correction) joins that party and shows as it, not as one of its own
   */
  parties?(): number | undefined;
  /**
   * the longest waits of the system's event loop since the last call (the first call starts the
   * window): what in the process itself, not the disk, could hold an acknowledgement back
   */
  loopDelay?(): Promise<{ p99Ms: number; maxMs: number } | undefined>;
  /** anything the run should mention (e.g. dropped messages) */
  notes(): string[];
  stop(): Promise<void>;
}

export interface Target {
  name: 'greetwatch' | 'peer' | 'aedes';
  start(run: number, nodes: readonly string[], runDir: string): Promise<Running>;
}

/** how many durations a hub's latency figures cover; a hub built before they said so (--against an older checkout) gives none */
const windowOf = (f: { n?: number }): string => (f.n === undefined ? 'recent' : `the last ${f.n.toLocaleString('en-US')}`);
const anyLogin = (node: string) => ({ username: node, password: 'x', clientId: `gw-${STORE}-${node}` });

/**
 * `greetwatch hub --config <file>` (bin/greetwatch.mjs), history on the bench's influxd when there
 * is one; `root` another checkout's (bench/hub-cpu.ts --against), `nodeArgs` flags for its node
 */
export function greetwatchTarget(influxUrl: string | undefined, opts: { root?: string; nodeArgs?: readonly string[] } = {}): Target {
  const hubRoot = opts.root ?? root;
  return {
    name: 'greetwatch',
    async start(run, nodes, runDir) {
      const mqttPort = await freePort();
      const httpPort = await freePort();
      const raw = {
        store: { id: STORE, timezone: 'UTC' },
        // entries of the steady load are ≥ 5 ms apart: each opens a party of its own, so each can be timed to the
        // screen, unless two nodes' clock corrections bring two within 2 ms (counted apart: Running.parties)
        rules: { groupWindowS: 0.002 },
        staff: [{ id: 'anna' }],
        nodes: nodes.map((id) => ({ id })),
        hub: {
          mqtt: { host: '127.0.0.1', port: mqttPort },
          http: { host: '127.0.0.1', port: httpPort },
          dataDir: path.join(runDir, 'hub'),
          influx: influxUrl ? { url: influxUrl, database: `gw_run_${run}` } : { managed: false },
        },
      };
      const cfg = await withLogins(Value.Default(StoreConfig, raw) as StoreConfig);
      const cfgFile = path.join(runDir, 'store.json');
      fs.writeFileSync(cfgFile, JSON.stringify(cfg, null, 2)); // JSON is YAML: the CLI reads it
      const hub = startProc('greetwatch hub', process.execPath, [...(opts.nodeArgs ?? []), path.join(hubRoot, 'bin', 'greetwatch.mjs'), 'hub', '--config', cfgFile], {
        logFile: path.join(runDir, 'hub.log'),
        env: { ...process.env, LOG_LEVEL: 'warn', INFLUX_URL: '' },
        cwd: hubRoot,
      });
      const http = `http://127.0.0.1:${httpPort}`;
      try {
        await waitFor(async () => {
          if (hub.child.exitCode !== null) throw new Error(`greetwatch hub exited: ${hub.tail()}`);
          try {
            return (await fetch(`${http}/healthz`, { signal: AbortSignal.timeout(2_000) })).ok;
          } catch {
            return false;
          }
        }, 'the greetwatch hub up', 60_000, 100);
      } catch (err) {
        await hub.stop();
        throw err;
      }
      /** the journal as /live last said: its commit times are the disk's, which every PUBACK waits for */
      let journal: LiveSnapshot['journal'];
      let parties: number | undefined;
      return {
        mqttPort,
        pids: () => (hub.child.exitCode === null ? [hub.pid] : []),
        login: (node) => ({ username: node, password: password(node), clientId: `gw-${STORE}-${node}` }),
        async landed() {
          // the trace journal: events made durable and handed to the engine
          const res = await fetch(`${http}/api/stores/${STORE}/live`, { headers: apiAuth, signal: AbortSignal.timeout(20_000) });
          const snap = (await res.json()) as LiveSnapshot;
          journal = snap.journal;
          parties = snap.today.visits + snap.today.pending;
          return snap.journal?.written ?? 0;
        },
        ackIsLanded: true,
        parties: () => parties,
        screen: (seen) => sseScreen(`${http}/api/stores/${STORE}/stream`, seen, apiAuth),
        async loopDelay() {
          // prom-client's default metrics: a 10 ms timer's intervals, since its last scrape (each
          // scrape starts a new window); the timer's own 10 ms taken off leaves the delay
          const res = await fetch(`${http}/metrics`, { headers: apiAuth, signal: AbortSignal.timeout(20_000) });
          const text = await res.text();
          const read = (q: string) => Number(new RegExp(`^greetwatch_nodejs_eventloop_lag_${q}_seconds (\\S+)$`, 'm').exec(text)?.[1]);
          const p99 = read('p99');
          const max = read('max');
          return Number.isFinite(p99) && Number.isFinite(max) ? { p99Ms: Math.max(0, p99 * 1000 - 10), maxMs: Math.max(0, max * 1000 - 10) } : undefined;
        },
        notes: () => {
          const c = journal?.commits;
          const r = journal?.commitMs;
          return [
            ...(c && c.meanMs !== null && r
              ? [`journal: ${c.count.toLocaleString('en-US')} synchronous commits, mean ${c.meanMs.toFixed(2)} ms, slowest ${c.maxMs.toFixed(1)} ms; ${windowOf(r)}: p50 ${r.p50.toFixed(2)}, p99 ${r.p99.toFixed(2)} ms`]
              : []),
            ...(journal?.ackMs
              ? [`in the hub (asked → PUBACK may go), ${windowOf(journal.ackMs)} publishes: p50 ${journal.ackMs.p50.toFixed(2)}, p99 ${journal.ackMs.p99.toFixed(2)}, slowest ${journal.ackMs.max.toFixed(1)} ms`]
              : []),
            ...(hub.child.exitCode !== null ? [`hub exited: ${hub.tail(3)}`] : []),
          ];
        },
        stop: () => hub.stop(),
      };
    },
  };
}

export function peerTarget(install: PeerInstall, influxUrl: string, tuned = false): Target {
  return {
    name: 'peer',
    async start(run, _nodes, runDir) {
      const p = await startPeer(install, { influxUrl, runDir, run, store: STORE, tuned });
      return {
        mqttPort: p.mqttPort,
        pids: () => p.pids(),
        login: anyLogin,
        landed: (bootid) => p.landed(bootid),
        ackIsLanded: false,
        screen: (seen) =>
          wsScreen(p.wsUrl, (text) => {
            try {
              const m = JSON.parse(text) as { node: string; id: string };
              seen(`${m.node}/${m.id}`);
            } catch {
              // not ours
            }
          }),
        notes: () => {
          const n = p.dropNotices();
          return n ? [`mosquitto logged ${n} notice(s) of dropped messages (max_queued_messages)`] : [];
        },
        stop: () => p.stop(),
      };
    },
  };
}

export function aedesTarget(): Target {
  return {
    name: 'aedes',
    async start(_run, _nodes, runDir) {
      const port = await freePort();
      const proc = startProc('bare aedes', process.execPath, ['--import', 'tsx', path.join(here, 'aedes-child.ts'), String(port)], {
        logFile: path.join(runDir, 'aedes.log'),
        cwd: root,
        ipc: true,
      });
      await new Promise<void>((resolve, reject) => {
        proc.child.once('message', () => resolve());
        proc.child.once('exit', () => reject(new Error(`bare aedes exited: ${proc.tail()}`)));
      });
      return {
        mqttPort: port,
        pids: () => (proc.child.exitCode === null ? [proc.pid] : []),
        login: anyLogin,
        landed: () =>
          new Promise<number>((resolve) => {
            const t = setTimeout(() => resolve(NaN), 5_000);
            proc.child.once('message', (m) => {
              clearTimeout(t);
              resolve((m as { published: number }).published);
            });
            proc.child.send('count');
          }),
        ackIsLanded: true,
        notes: () => [],
        stop: () => proc.stop(),
      };
    },
  };
}
