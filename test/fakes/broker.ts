import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Aedes, type Client } from 'aedes';

// A real MQTT broker (aedes, in memory) on a real TCP port, for tests that need MQTT
// semantics (retain, QoS 1 PUBACK, Last Will) without a mosquitto install. It records
// every publish it accepts and can be stopped and restarted on the same port to play a
// broker outage.

export interface SeenPublish {
  topic: string;
  payload: string;
  qos: number;
  retain: boolean;
  /** publishing client's id; null for broker-made messages (Last Will, $SYS) */
  clientId: string | null;
}

export interface TestBroker {
  readonly port: number;
  readonly url: string;
  /** publishes the broker accepted, in order, across restarts */
  readonly seen: SeenPublish[];
  /** topics subscribed, per client id (current broker instance) */
  readonly subscriptions: Map<string, Set<string>>;
  /** cuts a client's TCP connection without a DISCONNECT (the broker then sends its Will) */
  dropClient(clientId: string): boolean;
  /** broker down: all clients are disconnected and the port is closed */
  stop(): Promise<void>;
  /** broker up again on the same port (new instance: retained messages are gone) */
  restart(): Promise<void>;
  readonly running: boolean;
}

export async function startBroker(): Promise<TestBroker> {
  const seen: SeenPublish[] = [];
  const subscriptions = new Map<string, Set<string>>();
  const clients = new Map<string, Client>();
  let aedes: Aedes | null = null;
  let server: Server | null = null;
  let port = 0;

  const up = async (): Promise<void> => {
    const broker = await Aedes.createBroker();
    broker.on('publish', (packet, client) => {
      if (packet.topic.startsWith('$SYS')) return;
      seen.push({
        topic: packet.topic,
        payload: Buffer.from(packet.payload).toString('utf8'),
        qos: packet.qos,
        retain: packet.retain,
        clientId: client ? client.id : null,
      });
    });
    broker.on('client', (c) => clients.set(c.id, c));
    broker.on('clientDisconnect', (c) => {
      if (clients.get(c.id) === c) clients.delete(c.id);
    });
    broker.on('subscribe', (subs, c) => {
      const set = subscriptions.get(c.id) ?? new Set<string>();
      for (const s of subs) set.add(s.topic);
      subscriptions.set(c.id, set);
    });
    const srv = createServer(broker.handle);
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, '127.0.0.1', () => {
        srv.off('error', reject);
        resolve();
      });
    });
    port = (srv.address() as AddressInfo).port;
    aedes = broker;
    server = srv;
  };

  await up();

  return {
    get port() {
      return port;
    },
    get url() {
      return `mqtt://127.0.0.1:${port}`;
    },
    seen,
    subscriptions,
    get running() {
      return aedes !== null;
    },
    dropClient(clientId) {
      const c = clients.get(clientId);
      if (!c) return false;
      c.conn.destroy();
      return true;
    },
    async stop() {
      const broker = aedes;
      const srv = server;
      aedes = null;
      server = null;
      subscriptions.clear();
      clients.clear();
      if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
      if (srv) await new Promise<void>((resolve) => srv.close(() => resolve()));
    },
    async restart() {
      if (aedes) return;
      await up();
    },
  };
}

export { waitFor } from '../helpers/wait.ts';
