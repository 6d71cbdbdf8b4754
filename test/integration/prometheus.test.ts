import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, sourceOf, topics, type LiveSnapshot } from '../../contract/index.ts';
import { StoreConfig } from '../../firmware-config/schema.ts';
import { metricsRoute } from '../../hub/http/metrics-route.ts';
import { MQTT_ACK_WINDOW } from '../../hub/plugins/broker.ts';
import { COMMIT_WINDOW } from '../../hub/trace-recorder.ts';
import { startHub, type Hub } from '../../hub/hub.ts';
import { memoryVisitStore } from '../../hub/visit-store.ts';
import { apiAuth, loginAs } from '../helpers/logins.ts';
import { testStore } from '../helpers/store-config.ts';
import { waitFor } from '../helpers/wait.ts';

// README "Prometheus": a real hub (broker, ingest, live engine) fed over MQTT with a node's
// login, and GET /metrics on a small fastify app built on that hub's context, as the hub's
// HTTP plugin registers it. The scrape must agree with the live snapshot.

const STORE = 'pm';

let hub: Hub;
let dir: string;
let cfg: StoreConfig;
let app: FastifyInstance;
let base: string;
let node: mqtt.MqttClient;
const routeAccess = new Map<string, unknown>();

interface Family {
  type: string;
  help: string;
  samples: Array<{ name: string; labels: Record<string, string>; value: number }>;
}

/** the Prometheus text format (0.0.4), strictly: every line is a HELP, a TYPE or a sample of a declared family */
function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const familyOf = (sample: string): Family | undefined => {
    for (const suffix of ['', '_bucket', '_sum', '_count']) {
      if (suffix && !sample.endsWith(suffix)) continue;
      const f = families.get(sample.slice(0, sample.length - suffix.length));
      if (f && (suffix === '' || f.type === 'histogram' || f.type === 'summary')) return f;
    }
    return undefined;
  };
  const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  // values as Prometheus reads them (Go's ParseFloat: NaN and Inf in any case; prom-client writes "Nan")
  const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (-?[0-9.e+-]+|nan|[+-]inf)$`, 'i');
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m = new RegExp(`^# HELP (${NAME}) (.+)$`).exec(line);
    if (m) {
      families.set(m[1]!, { type: '', help: m[2]!, samples: [] });
      continue;
    }
    m = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
    if (m) {
      const f = families.get(m[1]!);
      if (!f) throw new Error(`TYPE before HELP: ${line}`);
      f.type = m[2]!;
      continue;
    }
    m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a metric line: ${JSON.stringify(line)}`);
    const f = familyOf(m[1]!);
    if (!f) throw new Error(`sample of an undeclared family: ${line}`);
    const labels: Record<string, string> = {};
    const rest = (m[2] ?? '').replace(LABEL, (_all, k: string, v: string) => {
      labels[k] = v;
      return '';
    });
    if (rest.replace(/,/g, '') !== '') throw new Error(`bad labels: ${line}`);
    f.samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return families;
}

const scrape = async (): Promise<{ type: string; families: Map<string, Family> }> => {
  const res = await fetch(`${base}/metrics`);
  expect(res.status).toBe(200);
  return { type: res.headers.get('content-type') ?? '', families: parseExposition(await res.text()) };
};

/** the one sample of `name` whose labels include `labels` */
const value = (families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined => {
  for (const f of families.values()) {
    const s = f.samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
    if (s) return s.value;
  }
  return undefined;
};

const snapshot = (): LiveSnapshot => hub.ctx.runtime.live!.snapshot();
const door = () => snapshot().nodes.find((n) => n.node === 'door')!;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-prom-'));
  cfg = await testStore({
    store: { id: STORE, timezone: 'UTC' },
    rules: { expireS: 600, warnAtS: 20, greetWithinS: 30 },
    nodes: [
      { id: 'door', sensors: [{ id: 'beam', kind: 'beam-pair', outerPin: 1, innerPin: 2 }] },
      { id: 'counter', buttons: [{ id: 'btn', pin: 3 }] },
    ],
  });
  hub = await startHub({ config: cfg, dataDir: dir, log: pino({ level: 'silent' }), store: memoryVisitStore('memory'), tickMs: 20 });

  app = Fastify();
  // what the auth hook reads: the route's access level
  app.addHook('onRoute', (r) => {
    routeAccess.set(`${r.method as string} ${r.url}`, (r.config as { access?: unknown } | undefined)?.access);
  });
  // registered before metricsRoute, as the hub's own routes may be: timed all the same
  app.get('/api/stores/:store/live', async () => hub.ctx.runtime.live!.snapshot());
  app.get('/api/stores/:store/stream', (_req, reply) => {
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream' });
    reply.raw.end(': bye\n\n');
  });
  metricsRoute(app, hub.ctx);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;

  node = await mqtt.connectAsync(hub.mqttUrl, { ...loginAs(cfg, 'door'), reconnectPeriod: 0 });
});

afterAll(async () => {
  await node?.endAsync();
  await app?.close();
  await hub?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('GET /metrics', () => {
  it('exposes the hub state with node labels, matching the live snapshot', async () => {
    const now = () => new Date(hub.ctx.clock.now()).toISOString();
    const entry = (id: string, seq: number) =>
      JSON.stringify({ specversion: '1.0', id, source: sourceOf(STORE, 'door'), type: 'greetwatch.entry.v1', time: now(), senttime: now(), bootid: 'b1', seq, data: { sensor: 'beam', direction: 'in' } });
    await node.publishAsync(
      topics.status(STORE, 'door'),
      JSON.stringify({ state: 'online', bootid: 'b1', fw: 'test', cfghash: 'x', time: now(), outbox: 2, dropped: 1 }),
      { qos: 1, retain: true },
    );
    await node.publishAsync(topics.events(STORE, 'door'), entry('e1', 1), { qos: 1 });
    await node.publishAsync(topics.events(STORE, 'door'), entry('e2', 2), { qos: 1 });
    await node.publishAsync(topics.events(STORE, 'door'), entry('e3', 4), { qos: 1 }); // seq 3 never sent: one lost
    await node.publishAsync(topics.events(STORE, 'door'), entry('e2', 2), { qos: 1 }); // a duplicate
    // data that does not match its type: rejected, counted for the node and reason
    const bad = JSON.parse(entry('e4', 5)) as { data: unknown };
    bad.data = { sensor: 'beam' };
    await node.publishAsync(topics.events(STORE, 'door'), JSON.stringify(bad), { qos: 1 });
    // a wrong password: a refused connect
    await expect(mqtt.connectAsync(hub.mqttUrl, { username: 'door', password: 'wrong', clientId: 'gw-pm-door-x', reconnectPeriod: 0 })).rejects.toThrow();
    await waitFor(() => door().events === 3 && door().duplicates === 1 && door().online, 'events and status in the live view');
    await waitFor(() => snapshot().open.length > 0, 'an open party');
    // the refused connection's socket closes after its CONNACK: only the node's stays
    await waitFor(() => hub.ctx.runtime.mqttConnections!().open === 1, 'the refused connection closed');

    // the first scrape loads the registry; requests are timed from then on
    await scrape();
    for (let i = 0; i < 3; i++) expect((await fetch(`${base}/api/stores/${STORE}/live`)).status).toBe(200);
    expect((await fetch(`${base}/no/such/page-123`)).status).toBe(404);
    expect((await fetch(`${base}/api/stores/${STORE}/stream`)).status).toBe(200);

    const { type, families } = await scrape();
    expect(type).toBe('text/plain; version=0.0.4; charset=utf-8');
    const snap = snapshot();
    const d = snap.nodes.find((n) => n.node === 'door')!;

    // every family is ours, has a help text, and counters end in _total
    for (const [name, f] of families) {
      expect(name.startsWith('greetwatch_'), name).toBe(true);
      expect(f.help.length, name).toBeGreaterThan(0);
      if (f.type === 'counter') expect(name.endsWith('_total'), name).toBe(true);
    }
    for (const name of [
      'greetwatch_events_accepted_total',
      'greetwatch_events_rejected_total',
      'greetwatch_events_duplicate_total',
      'greetwatch_events_lost',
      'greetwatch_events_too_late_total',
      'greetwatch_node_clock_offset_seconds',
      'greetwatch_node_online',
      'greetwatch_open_parties',
      'greetwatch_history_spool_points',
      'greetwatch_history_state',
      'greetwatch_mqtt_connections',
      'greetwatch_mqtt_clients',
      'greetwatch_mqtt_connects_refused_total',
      'greetwatch_journal_write_failures_total',
      'greetwatch_sse_clients_dropped_total',
      'greetwatch_http_request_duration_seconds',
      // prom-client's process metrics, under our prefix
      'greetwatch_process_cpu_user_seconds_total',
      'greetwatch_process_resident_memory_bytes',
      'greetwatch_nodejs_eventloop_lag_seconds',
    ]) {
      expect(families.has(name), name).toBe(true);
    }
    expect(families.get('greetwatch_http_request_duration_seconds')!.type).toBe('histogram');

    // per node, as the live snapshot has it
    expect(value(families, 'greetwatch_events_accepted_total', { node: 'door' })).toBe(d.events);
    expect(d.events).toBe(3);
    expect(value(families, 'greetwatch_events_accepted_total', { node: 'counter' })).toBe(0);
    expect(value(families, 'greetwatch_events_duplicate_total', { node: 'door' })).toBe(d.duplicates);
    expect(value(families, 'greetwatch_events_lost', { node: 'door' })).toBe(d.lost);
    expect(d.lost).toBe(1);
    expect(value(families, 'greetwatch_events_too_late_total', { node: 'door' })).toBe(d.tooLate);
    expect(value(families, 'greetwatch_events_rejected_total', { node: 'door', reason: ErrorCodes.EVENT_DATA })).toBe(d.rejected[ErrorCodes.EVENT_DATA]);
    expect(d.rejected[ErrorCodes.EVENT_DATA]).toBe(1);
    expect(value(families, 'greetwatch_node_online', { node: 'door' })).toBe(1);
    expect(value(families, 'greetwatch_node_online', { node: 'counter' })).toBe(0);
    expect(value(families, 'greetwatch_node_outbox_events', { node: 'door' })).toBe(2);
    expect(value(families, 'greetwatch_node_dropped_events_total', { node: 'door' })).toBe(1);
    expect(d.offsetMs).not.toBeNull();
    expect(value(families, 'greetwatch_node_clock_offset_seconds', { node: 'door' })).toBeCloseTo(d.offsetMs! / 1000, 9);
    // a node that never sent an event has no offset: no sample rather than a made-up 0
    expect(value(families, 'greetwatch_node_clock_offset_seconds', { node: 'counter' })).toBeUndefined();

    // the floor: every level present, the sum is the waiting list
    const open = ['ok', 'warn', 'late'].map((level) => value(families, 'greetwatch_open_parties', { level }));
    expect(open.every((n) => typeof n === 'number')).toBe(true);
    expect(open.reduce((a, b) => a! + b!, 0)).toBe(snap.open.length);

    // history off (memory store): one state is 1
    expect(value(families, 'greetwatch_history_state', { state: 'off' })).toBe(1);
    expect(value(families, 'greetwatch_history_state', { state: 'up' })).toBe(0);
    expect(value(families, 'greetwatch_history_spool_points')).toBe(0);

    // MQTT: our node is connected and logged in; the wrong password was counted
    const conns = hub.ctx.runtime.mqttConnections!();
    expect(value(families, 'greetwatch_mqtt_clients')).toBe(conns.clients);
    expect(conns.clients).toBe(1);
    expect(value(families, 'greetwatch_mqtt_connections')).toBe(conns.open);
    expect(value(families, 'greetwatch_mqtt_connects_refused_total', { reason: 'bad-credentials' })).toBe(1);
    expect(value(families, 'greetwatch_journal_events_written_total')).toBe(hub.ctx.recorder.stats().written);
    expect(value(families, 'greetwatch_journal_write_failures_total')).toBe(0);
    // publish handling put off by the turn budget, as the hub counts it
    expect(value(families, 'greetwatch_publish_tasks_deferred_total')).toBe(hub.ctx.turn.stats().deferred);
    expect(value(families, 'greetwatch_publish_tasks_waiting')).toBe(hub.ctx.turn.stats().waiting);
    // the journal's commits and their times (one synchronous write each), as the recorder keeps them
    const js = hub.ctx.recorder.stats();
    expect(js.written).toBeGreaterThan(0);
    expect(value(families, 'greetwatch_journal_commits_total')).toBe(js.commits);
    const q = (quantile: string) => value(families, 'greetwatch_journal_commit_seconds', { quantile });
    expect(q('0.5')).toBe(js.commitMs!.p50 / 1000);
    expect(q('1')).toBe(js.commitMs!.max / 1000);
    expect(q('0.5')! > 0 && q('0.5')! <= q('0.99')! && q('0.99')! <= q('1')!).toBe(true);
    expect(value(families, 'greetwatch_journal_commit_seconds_total')).toBe(js.commitMsTotal / 1000);
    expect(js.commitMsTotal).toBeGreaterThanOrEqual(js.commitMsMax);
    // what the hub added to each PUBACK: an accepted event waited for its commit
    const acks = hub.ctx.runtime.mqttAckMs!()!;
    const aq = (quantile: string) => value(families, 'greetwatch_mqtt_ack_seconds', { quantile });
    expect([aq('0.5'), aq('0.99'), aq('1')]).toEqual([acks.p50 / 1000, acks.p99 / 1000, acks.max / 1000]);
    expect(acks.p50 <= acks.p99 && acks.p99 <= acks.max).toBe(true);
    // the help text names the window the quantiles are read over
    expect(families.get('greetwatch_mqtt_ack_seconds')!.help).toContain(`the last ${MQTT_ACK_WINDOW} publishes`);
    expect(families.get('greetwatch_journal_commit_seconds')!.help).toContain(`the last ${COMMIT_WINDOW} commits`);
    expect(acks.max).toBeGreaterThanOrEqual(js.commitMs!.max);
    // /live gives the same windows, with how many durations each covers
    const live = (await (await fetch(`${base}/api/stores/${STORE}/live`)).json()) as LiveSnapshot;
    expect(live.journal?.ackMs).toEqual(hub.ctx.runtime.mqttAckMs!());
    expect(live.journal?.commitMs).toEqual(hub.ctx.recorder.stats().commitMs);
    expect(live.journal?.ackMs?.n).toBeGreaterThan(0);

    // latency: by route pattern and status class, never by URL; the hijacked stream is not timed
    const http = families.get('greetwatch_http_request_duration_seconds')!;
    const count = (route: string, statusClass: string) =>
      http.samples.find((s) => s.name.endsWith('_count') && s.labels.route === route && s.labels.status_class === statusClass && s.labels.method === 'GET')?.value;
    expect(count('/api/stores/:store/live', '2xx')).toBe(3);
    expect(count('(unmatched)', '4xx')).toBe(1);
    expect(http.samples.some((s) => s.labels.route === '/api/stores/:store/stream')).toBe(false);
    expect(http.samples.some((s) => s.labels.route?.includes(STORE) || s.labels.route?.includes('page-123'))).toBe(false);
    const buckets = http.samples.filter((s) => s.name.endsWith('_bucket') && s.labels.route === '/api/stores/:store/live');
    expect(buckets.find((s) => s.labels.le === '+Inf')?.value).toBe(3);

    // a scrape is timed once it has been answered: the two before this one
    const again = await scrape();
    expect(
      again.families.get('greetwatch_http_request_duration_seconds')!.samples.find((s) => s.name.endsWith('_count') && s.labels.route === '/metrics')?.value,
    ).toBe(2);
  });

  it('is served by the hub itself, to an owner token, and refused without one', async () => {
    const ok = await fetch(`${hub.httpUrl}/metrics`, { headers: apiAuth });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await ok.text();
    expect(text).toMatch(/^greetwatch_events_accepted_total\{node="door"\} \d+$/m);
    expect((await fetch(`${hub.httpUrl}/metrics`)).status).toBe(401);
  });

  it('is an owner route, as the API it is protected like', () => {
    expect(routeAccess.get('GET /metrics')).toBe('owner');
  });

  it('keeps one registry per hub: a second one in the same process does not clash', async () => {
    const other = Fastify();
    metricsRoute(other, hub.ctx);
    const res = await other.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(parseExposition(res.body).has('greetwatch_events_accepted_total')).toBe(true);
    await other.close();
  });
});
