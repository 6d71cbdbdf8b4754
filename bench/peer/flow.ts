// The Node-RED flow a store owner would wire instead of greetwatch: MQTT in (QoS 1) →
// function (CloudEvent → InfluxDB point, and entries to a screen) → join (500 messages or
// 1 s) → influxdb batch; the function's second output feeds a websocket out (the "screen").

export interface FlowOptions {
  mqttPort: number;
  influxPort: number;
  database: string;
  /** path of the websocket the screen listens on, e.g. /ws/entries */
  wsPath: string;
  topic: string;
}

/**
 * The function node's body (Node-RED runs it per message). Points are tagged by node, type and
 * boot id; the timestamp is the event time in ns with the event's seq in the last six digits, so
 * two events of one node in the same millisecond stay two points (InfluxDB keeps one point per
 * series and timestamp).
 */
export const FUNCTION_BODY = `let ev;
try {
  ev = JSON.parse(msg.payload);
} catch (e) {
  node.warn('not JSON: ' + e.message);
  return null;
}
const parts = msg.topic.split('/');
const ms = Date.parse(ev.time);
if (!Number.isFinite(ms) || typeof ev.seq !== 'number') {
  node.warn('no time or seq');
  return null;
}
const point = {
  measurement: 'events',
  tags: { store: parts[2], node: parts[3], type: ev.type, bootid: String(ev.bootid) },
  fields: { id: String(ev.id), seq: ev.seq },
  timestamp: String(ms) + String(ev.seq % 1000000).padStart(6, '0'),
};
const screen = ev.type === 'greetwatch.entry.v1' ? { payload: JSON.stringify({ node: parts[3], id: ev.id, time: ev.time }) } : null;
return [{ payload: point }, screen];`;

type FlowNode = Record<string, unknown> & { id: string; type: string };

export function peerFlow(o: FlowOptions): FlowNode[] {
  const tab = 'gw-tab';
  return [
    { id: tab, type: 'tab', label: 'greetwatch DIY', disabled: false, info: '' },
    {
      id: 'gw-broker',
      type: 'mqtt-broker',
      name: 'mosquitto',
      broker: '127.0.0.1',
      port: String(o.mqttPort),
      clientid: 'nodered-greetwatch-bench',
      autoConnect: true,
      usetls: false,
      protocolVersion: '4',
      keepalive: '60',
      cleansession: true,
      autoUnsubscribe: true,
      birthTopic: '',
      closeTopic: '',
      willTopic: '',
    },
    {
      id: 'gw-influx',
      type: 'influxdb',
      hostname: '127.0.0.1',
      port: String(o.influxPort),
      protocol: 'http',
      database: o.database,
      name: 'influxd',
      usetls: false,
      influxdbVersion: '1.x',
    },
    { id: 'gw-ws', type: 'websocket-listener', path: o.wsPath, wholemsg: 'false' },
    { id: 'gw-in', type: 'mqtt in', z: tab, name: 'events', topic: o.topic, qos: '1', datatype: 'utf8', broker: 'gw-broker', nl: false, rap: true, rh: 0, inputs: 0, x: 120, y: 100, wires: [['gw-fn']] },
    { id: 'gw-fn', type: 'function', z: tab, name: 'to point', func: FUNCTION_BODY, outputs: 2, timeout: 0, noerr: 0, initialize: '', finalize: '', libs: [], x: 300, y: 100, wires: [['gw-join'], ['gw-screen']] },
    {
      id: 'gw-join',
      type: 'join',
      z: tab,
      name: '500 or 1 s',
      mode: 'custom',
      build: 'array',
      property: 'payload',
      propertyType: 'msg',
      key: 'topic',
      joiner: '\\n',
      joinerType: 'str',
      useparts: false,
      accumulate: false,
      timeout: '1',
      count: '500',
      reduceRight: false,
      x: 480,
      y: 100,
      wires: [['gw-batch']],
    },
    { id: 'gw-batch', type: 'influxdb batch', z: tab, influxdb: 'gw-influx', precision: '', retentionPolicy: '', name: 'history', x: 660, y: 100, wires: [] },
    { id: 'gw-screen', type: 'websocket out', z: tab, name: 'screen', server: 'gw-ws', client: '', x: 480, y: 160, wires: [] },
  ];
}

/** settings.js for one run: editor and admin API off, listening on 127.0.0.1 only */
export function settingsJs(o: { port: number; userDir: string }): string {
  return `// written by greetwatch bench/peer/flow.ts for one bench run
module.exports = {
  uiHost: '127.0.0.1',
  uiPort: ${o.port},
  userDir: ${JSON.stringify(o.userDir)},
  flowFile: 'flows.json',
  credentialSecret: false,
  httpAdminRoot: false,
  logging: { console: { level: 'info', metrics: false, audit: false } },
  diagnostics: { enabled: false, ui: false },
  runtimeState: { enabled: false, ui: false },
  telemetry: { enabled: false, updateNotification: false },
  externalModules: { autoInstall: false },
  editorTheme: { projects: { enabled: false } },
};
`;
}

/**
 * mosquitto.conf for one run: our port on 127.0.0.1, no persistence. By default queue, in-flight
 * and Nagle settings stay at mosquitto's defaults, as a store owner would leave them; `tuned` lifts
 * the queue limit, raises the in-flight window and turns Nagle off.
 */
export function mosquittoConf(port: number, tuned = false): string {
  return `# written by greetwatch bench/peer/flow.ts for one bench run
listener ${port} 127.0.0.1
allow_anonymous true
persistence false
log_dest stderr
log_type error
log_type warning
log_type notice
${
  tuned
    ? 'max_queued_messages 0\nmax_inflight_messages 100\nset_tcp_nodelay true\n'
    : '# defaults kept: max_inflight_messages 20, max_queued_messages 1000 (then QoS 1 messages to a slow subscriber are dropped), set_tcp_nodelay false\n'
}`;
}
