import net from 'node:net';
import { monotonicFactory } from 'ulid';
import { sourceOf, topics } from '../contract/index.ts';

// Load for the comparison bench (bench/compare.ts): valid greetwatch CloudEvents and a lean
// MQTT 3.1.1 QoS 1 publisher. The publisher speaks the protocol itself (CONNECT, PUBLISH,
// PUBACK, PINGREQ) so that the client side costs a few µs per event and the brokers, not
// mqtt.js, set the ceiling. Every connection keeps a bounded number of publishes in flight.

// ---------------------------------------------------------------------------
// events

/** Share of each event type in the generated load (a period of 11, coprime with the connection counts used). */
export const MIX_PERIOD = 11;
export const MIX_TEXT = '1 entry (in) and 1 greet in every 11 events, the other 9 presence on/off and door open/closed';
/** greets start this many events after the first entry, so every party waits a while (at 1,000 events/s: 3 s) */
export const GREET_LAG = 3_000;

export type EventKind = 'entry' | 'greet' | 'presence' | 'door';

export function kindAt(i: number): EventKind {
  const j = i % MIX_PERIOD;
  if (j === 0) return 'entry';
  if (j === 5) return i >= GREET_LAG ? 'greet' : 'door';
  return j % 2 ? 'presence' : 'door';
}

export interface BuiltEvent {
  payload: Buffer;
  /** `<node>/<event id>` for entries: the party id the hub gives the party it opens */
  party?: string;
}

/** ISO time of `ms`, cached per millisecond (toISOString is the costliest part of building an event) */
let isoMs = -1;
let isoText = '';
const iso = (ms: number) => {
  if (ms !== isoMs) {
    isoMs = ms;
    isoText = new Date(ms).toISOString();
  }
  return isoText;
};

/** ids as our nodes make them (edge/envelope.ts): monotonic ULIDs, so they never repeat within the bench */
const nextId = monotonicFactory();

/** Event `i` of the load (its type from the mix), `seq` per connection (1, 2, 3 …), sent by `node`. */
export function buildEvent(store: string, node: string, bootid: string, seq: number, i: number): BuiltEvent {
  const kind = kindAt(i);
  const now = Date.now();
  const id = nextId(now);
  const half = Math.floor(i / MIX_PERIOD) % 2 === 0;
  const data =
    kind === 'entry'
      ? { sensor: 'front-beam', direction: 'in' }
      : kind === 'greet'
        ? { button: 'fob', staff: 'anna' }
        : kind === 'presence'
          ? { sensor: 'pir', zone: 'floor', state: half ? 'on' : 'off' }
          : { sensor: 'door', state: half ? 'open' : 'closed' };
  const ev = {
    specversion: '1.0',
    id,
    source: sourceOf(store, node),
    type: `greetwatch.${kind}.v1`,
    time: iso(now),
    bootid,
    seq,
    datacontenttype: 'application/json',
    data,
  };
  const payload = Buffer.from(JSON.stringify(ev));
  return kind === 'entry' ? { payload, party: `${node}/${id}` } : { payload };
}

// ---------------------------------------------------------------------------
// MQTT 3.1.1, just what a QoS 1 publisher needs

function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}
const str = (s: string) => {
  const b = Buffer.from(s);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
};

export interface ConnectOptions {
  port: number;
  host?: string;
  /** source address on the loopback: one per node, as nodes in a store each have their own */
  localAddress?: string;
  clientId: string;
  username?: string;
  password?: string;
  keepaliveS?: number;
  timeoutMs?: number;
}

export class QosPublisher {
  readonly #socket: net.Socket;
  readonly #acks: Array<(() => void) | undefined> = new Array<(() => void) | undefined>(65_536);
  #nextId = 1;
  #inFlight = 0;
  #buf: Buffer = Buffer.alloc(0);
  #ping: NodeJS.Timeout | undefined;
  #closed = false;
  /** set when the connection ends (by us or the broker) */
  readonly closed: Promise<void>;
  #error: Error | undefined;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('close', () => {
      this.#closed = true;
      if (this.#ping) clearInterval(this.#ping);
    });
  }

  get inFlight(): number {
    return this.#inFlight;
  }
  get isClosed(): boolean {
    return this.#closed;
  }
  get error(): Error | undefined {
    return this.#error;
  }

  static connect(o: ConnectOptions): Promise<QosPublisher> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: o.host ?? '127.0.0.1', port: o.port, ...(o.localAddress ? { localAddress: o.localAddress } : {}) });
      socket.setNoDelay(true);
      const pub = new QosPublisher(socket);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`MQTT CONNECT to ${o.port} as ${o.clientId}: no CONNACK within ${o.timeoutMs ?? 30_000} ms`));
      }, o.timeoutMs ?? 30_000);
      let connected = false;
      socket.once('error', (err) => {
        clearTimeout(timer);
        if (!connected) reject(err);
      });
      socket.on('error', (err) => {
        pub.#error = err;
      });
      socket.once('close', () => {
        clearTimeout(timer);
        if (!connected) reject(new Error(`MQTT CONNECT as ${o.clientId}: connection closed before CONNACK`));
      });
      pub.#onConnack = (code) => {
        clearTimeout(timer);
        if (code !== 0) {
          socket.destroy();
          return reject(new Error(`MQTT CONNECT as ${o.clientId}: CONNACK return code ${code}`));
        }
        connected = true;
        const keepalive = o.keepaliveS ?? 60;
        pub.#ping = setInterval(() => socket.write(Buffer.from([0xc0, 0x00])), (keepalive * 1000) / 2);
        resolve(pub);
      };
      socket.on('data', (chunk: Buffer) => pub.#onData(chunk));
      let flags = 0x02; // clean session
      const payload = [str(o.clientId)];
      if (o.username !== undefined) {
        flags |= 0x80;
        payload.push(str(o.username));
      }
      if (o.password !== undefined) {
        flags |= 0x40;
        payload.push(str(o.password));
      }
      const ka = o.keepaliveS ?? 60;
      const body = Buffer.concat([str('MQTT'), Buffer.from([4, flags, ka >> 8, ka & 0xff]), ...payload]);
      socket.write(Buffer.concat([Buffer.from([0x10, ...varint(body.length)]), body]));
    });
  }

  #onConnack: (code: number) => void = () => undefined;

  #onData(chunk: Buffer): void {
    const b = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    let off = 0;
    for (;;) {
      if (b.length - off < 2) break;
      let len = 0;
      let mult = 1;
      let i = off + 1;
      let complete = false;
      for (; i < b.length && i < off + 5; i++) {
        const x = b[i]!;
        len += (x & 0x7f) * mult;
        mult *= 128;
        if ((x & 0x80) === 0) {
          complete = true;
          i++;
          break;
        }
      }
      if (!complete || b.length - i < len) break;
      const type = b[off]! >> 4;
      if (type === 4 && len >= 2) {
        const id = b.readUInt16BE(i);
        const cb = this.#acks[id];
        if (cb) {
          this.#acks[id] = undefined;
          this.#inFlight--;
          cb();
        }
      } else if (type === 2 && len >= 2) {
        this.#onConnack(b[i + 1]!);
      }
      off = i + len;
    }
    this.#buf = off < b.length ? Buffer.from(b.subarray(off)) : Buffer.alloc(0);
  }

  /** One QoS 1 PUBLISH; `onAck` runs on its PUBACK. False when 65,535 are already in flight (or the connection is gone). */
  publish(topic: string, payload: Buffer, onAck: () => void): boolean {
    if (this.#closed || this.#inFlight >= 65_535) return false;
    let id = this.#nextId;
    while (this.#acks[id] !== undefined) id = id === 65_535 ? 1 : id + 1;
    this.#nextId = id === 65_535 ? 1 : id + 1;
    const t = Buffer.from(topic);
    const remaining = 2 + t.length + 2 + payload.length;
    const head = varint(remaining);
    const pkt = Buffer.allocUnsafe(1 + head.length + remaining);
    let o = 0;
    pkt[o++] = 0x32; // PUBLISH, QoS 1
    for (const x of head) pkt[o++] = x;
    pkt.writeUInt16BE(t.length, o);
    o += 2;
    t.copy(pkt, o);
    o += t.length;
    pkt.writeUInt16BE(id, o);
    o += 2;
    payload.copy(pkt, o);
    this.#acks[id] = onAck;
    this.#inFlight++;
    this.#socket.write(pkt);
    return true;
  }

  /** DISCONNECT and close; resolves once the socket is closed (destroyed after 2 s at most). */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#ping) clearInterval(this.#ping);
    this.#socket.end(Buffer.from([0xe0, 0x00]));
    const t = setTimeout(() => this.#socket.destroy(), 2_000);
    await this.closed;
    clearTimeout(t);
  }
}

// ---------------------------------------------------------------------------
// loads

export interface LoadConnection {
  pub: QosPublisher;
  node: string;
  topic: string;
}

export async function connectNodes(opts: {
  port: number;
  store: string;
  nodes: readonly string[];
  /** login per node (greetwatch checks them; the peer and bare aedes accept any) */
  login: (node: string) => { username: string; password: string; clientId: string };
}): Promise<LoadConnection[]> {
  return Promise.all(
    opts.nodes.map(async (node, c) => {
      const l = opts.login(node);
      const pub = await QosPublisher.connect({ port: opts.port, localAddress: `127.1.${Math.floor(c / 250)}.${1 + (c % 250)}`, clientId: l.clientId, username: l.username, password: l.password });
      return { pub, node, topic: topics.events(opts.store, node) };
    }),
  );
}

export interface LoadPlan {
  store: string;
  bootid: string;
  conns: readonly LoadConnection[];
  /** events in all; event i goes to connection i % conns.length */
  total: number;
  /** publishes in flight per connection (Infinity: a burst, everything written at once, up to 65,535) */
  window: number;
  /** paced at this rate (events/s) instead of as fast as the window allows */
  ratePerS?: number;
  /** give up after this long (ms); what was acknowledged by then is reported */
  timeoutMs: number;
  /** an entry was published (for entry → screen latency) */
  onEntry?: (party: string, atMs: number) => void;
}

export interface LoadResult {
  published: number;
  acked: number;
  startMs: number;
  /** performance.now() of the last PUBACK */
  lastAckMs: number;
  /** PUBACK latencies in ms, in arrival order */
  puback: Float64Array;
  timedOut: boolean;
  /** connections the broker closed during the load */
  dropped: number;
}


/** Runs one load to the end (every event acknowledged) or to its timeout. Never rejects for the broker's sake: a closed connection is counted. */
export async function runLoad(plan: LoadPlan): Promise<LoadResult> {
  const C = plan.conns.length;
  const puback = new Float64Array(plan.total);
  const seq = new Array<number>(C).fill(0);
  let published = 0;
  let acked = 0;
  let lastAckMs = 0;
  let stopped = false;
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  const startMs = performance.now();

  /** sends event i on its connection; false if that connection cannot take it now */
  const send = (i: number): boolean => {
    const c = i % C;
    const conn = plan.conns[c]!;
    const s = seq[c]! + 1;
    const ev = buildEvent(plan.store, conn.node, plan.bootid, s, i);
    const t0 = performance.now();
    const ok = conn.pub.publish(conn.topic, ev.payload, () => {
      const t = performance.now();
      if (acked < puback.length) puback[acked] = t - t0;
      acked++;
      lastAckMs = t;
      onAck(c);
      if (acked === plan.total) finish();
    });
    if (!ok) return false;
    seq[c] = s;
    published++;
    if (ev.party) plan.onEntry?.(ev.party, t0);
    return true;
  };

  // per connection, the next event index it sends (i = c, c + C, c + 2C …)
  const next = plan.conns.map((_, c) => c);
  let onAck: (c: number) => void = () => undefined;
  let pacer: NodeJS.Timeout | undefined;

  if (plan.ratePerS === undefined) {
    const refill = (c: number) => {
      while (!stopped && next[c]! < plan.total && plan.conns[c]!.pub.inFlight < plan.window) {
        if (!send(next[c]!)) break;
        next[c]! += C;
      }
    };
    onAck = refill;
    for (let c = 0; c < C; c++) refill(c);
  } else {
    // paced in global order: every 5 ms, what is due by now
    const rate = plan.ratePerS;
    let i = 0;
    pacer = setInterval(() => {
      const due = Math.min(plan.total, Math.floor(((performance.now() - startMs) / 1000) * rate));
      while (!stopped && i < due) {
        if (!send(i)) break; // a connection gone or full: it is counted as not acknowledged
        i++;
      }
      if (i >= plan.total && pacer) clearInterval(pacer);
    }, 5);
  }
  if (plan.total === 0) finish();
  // a connection the broker closes would leave its events unacknowledged forever: the timeout ends the wait
  const timer = setTimeout(finish, plan.timeoutMs);
  await done;
  stopped = true;
  clearTimeout(timer);
  if (pacer) clearInterval(pacer);
  await new Promise((r) => setImmediate(r)); // let the last acknowledgements' callbacks run
  return {
    published,
    acked,
    startMs,
    lastAckMs: lastAckMs || startMs,
    puback: puback.subarray(0, Math.min(acked, puback.length)),
    timedOut: acked < plan.total,
    dropped: plan.conns.filter((c) => c.pub.isClosed).length,
  };
}

export function percentile(values: ArrayLike<number>, p: number): number {
  if (values.length === 0) return NaN;
  const s = Float64Array.from(values).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
