import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort } from '../../hub/influxd.ts';
import { buildEvent, QosPublisher } from '../load-gen.ts';
import { waitFor } from '../../test/helpers/wait.ts';
import { startProc, type Proc } from '../procs.ts';
import { mosquittoConf, peerFlow, settingsJs } from './flow.ts';
import type { PeerInstall } from './install.ts';

// One run of the DIY peer: our own mosquitto on a free port, Node-RED with the generated flow,
// a fresh InfluxDB database on the bench's influxd. Landed = points in InfluxDB.

export const WS_PATH = '/ws/entries';

export interface RunningPeer {
  mqttPort: number;
  wsUrl: string;
  database: string;
  pids(): number[];
  /** points of this boot id in InfluxDB */
  landed(bootid: string): Promise<number>;
  /** mosquitto's notices about dropped messages, read from its log */
  dropNotices(): number;
  stop(): Promise<void>;
}

export async function influxQuery(influxUrl: string, q: string, db?: string, method: 'GET' | 'POST' = 'GET'): Promise<unknown> {
  const u = new URL('/query', influxUrl);
  u.searchParams.set('q', q);
  if (db) u.searchParams.set('db', db);
  const res = await fetch(u, { method, signal: AbortSignal.timeout(30_000) });
  if (!res.ok) throw new Error(`influx ${q}: HTTP ${res.status} ${await res.text()}`);
  return res.json();
}

async function countPoints(influxUrl: string, db: string, bootid: string): Promise<number> {
  const r = (await influxQuery(influxUrl, `SELECT count("seq") FROM "events" WHERE "bootid" = '${bootid}'`, db)) as {
    results?: Array<{ series?: Array<{ values?: Array<[string, number]> }> }>;
  };
  return r.results?.[0]?.series?.[0]?.values?.[0]?.[1] ?? 0;
}

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

export async function startPeer(install: PeerInstall, o: { influxUrl: string; runDir: string; run: number; store: string; tuned?: boolean }): Promise<RunningPeer> {
  fs.mkdirSync(o.runDir, { recursive: true });
  const influxPort = Number(new URL(o.influxUrl).port);
  const database = `peer_run_${o.run}`;
  await influxQuery(o.influxUrl, `CREATE DATABASE "${database}"`, undefined, 'POST');
  const procs: Proc[] = [];
  const stop = async () => {
    for (const p of procs.splice(0).reverse()) await p.stop();
    try {
      await influxQuery(o.influxUrl, `DROP DATABASE "${database}"`, undefined, 'POST');
    } catch {
      // influxd gone already: its data dir goes with it
    }
  };
  try {
    const mqttPort = await freePort();
    const conf = path.join(o.runDir, 'mosquitto.conf');
    fs.writeFileSync(conf, mosquittoConf(mqttPort, o.tuned === true));
    const mosq = startProc('mosquitto', install.mosquitto, ['-c', conf], { logFile: path.join(o.runDir, 'mosquitto.log') });
    procs.push(mosq);
    await waitFor(async () => {
      if (mosq.child.exitCode !== null) throw new Error(`mosquitto exited: ${mosq.tail()}`);
      return portOpen(mqttPort);
    }, 'mosquitto listening', 15_000, 50);

    const uiPort = await freePort();
    fs.writeFileSync(path.join(o.runDir, 'settings.js'), settingsJs({ port: uiPort, userDir: o.runDir }));
    fs.writeFileSync(path.join(o.runDir, 'flows.json'), JSON.stringify(peerFlow({ mqttPort, influxPort, database, wsPath: WS_PATH, topic: `greetwatch/v1/${o.store}/+/events` }), null, 2));
    // nodes of the scratch folder's node_modules are found beside node-red's own (its registry scans there)
    const red = startProc('node-red', process.execPath, [install.nodeRed, '--settings', path.join(o.runDir, 'settings.js'), '--userDir', o.runDir], {
      logFile: path.join(o.runDir, 'node-red.log'),
      cwd: install.dir,
    });
    procs.push(red);
    const log = () => {
      try {
        return fs.readFileSync(red.logFile, 'utf8');
      } catch {
        return '';
      }
    };
    await waitFor(() => {
      if (red.child.exitCode !== null) throw new Error(`node-red exited: ${red.tail(20)}`);
      const l = log();
      if (/Waiting for missing types|Error loading flows/.test(l)) throw new Error(`node-red cannot run the flow: ${red.tail(20)}`);
      return /Started flows/.test(l) && /Connected to broker/.test(l);
    }, 'node-red started, flow deployed and connected to mosquitto', 60_000, 100);

    // one event through the whole pipeline: subscribed, function, join, InfluxDB write all work
    const warm = await QosPublisher.connect({ port: mqttPort, clientId: 'gw-bench-warmup' });
    const ev = buildEvent(o.store, 'warmup', 'warmup', 1, 1);
    await new Promise<void>((resolve) => warm.publish(`greetwatch/v1/${o.store}/warmup/events`, ev.payload, resolve));
    await warm.close();
    await waitFor(async () => (await countPoints(o.influxUrl, database, 'warmup')) >= 1, 'the warm-up event in InfluxDB', 20_000, 200);

    return {
      mqttPort,
      wsUrl: `ws://127.0.0.1:${uiPort}${WS_PATH}`,
      database,
      pids: () => procs.filter((p) => p.child.exitCode === null).map((p) => p.pid),
      landed: (bootid) => countPoints(o.influxUrl, database, bootid),
      dropNotices: () => {
        try {
          return (fs.readFileSync(mosq.logFile, 'utf8').match(/dropped|dropping/gi) ?? []).length;
        } catch {
          return 0;
        }
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
