import { createRequire } from 'node:module';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type tls from 'node:tls';
import { Aedes } from 'aedes';
import type { Client, PublishPacket } from 'aedes';
import type * as MqttPacket from 'mqtt-packet';
import { brokerAccess } from '../broker-access.ts';
import { latencyWindow } from '../latency-window.ts';
import { mqttGuard, type GuardOptions } from '../mqtt-guard.ts';
import type { HubContext, HubPlugin } from '../context.ts';
import { rateLimitedLog } from '../rate-limited-log.ts';
import { mqttTlsServer } from '../tls.ts';

// The embedded MQTT broker (aedes) on a TCP listener, and a TLS one with hub.mqtt.tls. Other plugins see incoming
// publishes through `gate`, which runs before aedes acknowledges a QoS 1 publish:
// what the gate records is durable before the node hears PUBACK.

const remoteAddress = (client: Client): string | undefined => {
  const conn = client.conn as { remoteAddress?: string } | undefined;
  return conn?.remoteAddress;
};

/**
 * Why aedes refused a CONNECT (its CONNACK return code): the broker speaks MQTT 3.1 and 3.1.1
 * only, so an MQTT 5 client gets code 1 (README "The contract, in our words").
 */
function connectErrorReason(err: Error & { errorCode?: number }): { reason: string; message: string } | undefined {
  switch (err.errorCode) {
    case 1:
      return { reason: 'protocol-version', message: 'connection refused: unsupported MQTT version (this broker speaks MQTT 3.1.1 and 3.1, not 5): set the client to MQTT 3.1.1' };
    case 2:
      return { reason: 'client-id-rejected', message: 'connection refused: client id rejected' };
    case 6:
      return { reason: 'keepalive', message: 'connection refused: keepalive must be between 1 and 300 s' };
    default:
      return undefined;
  }
}

/** acknowledgements /live and /metrics read the figures over: 4 s at 1,000 events/s, hours at a store's usual rate */
export const MQTT_ACK_WINDOW = 4096;

export type PublishGate = (client: Client | null, packet: PublishPacket, done: (err?: Error) => void) => void;

export interface BrokerOptions {
  /** connection and packet limits (defaults in hub/mqtt-guard.ts) */
  guard?: Partial<GuardOptions>;
  /** called for every incoming publish; it is acknowledged when the gate calls `done` */
  gate?: PublishGate;
}

const listen = (srv: net.Server, port: number, host: string) =>
  new Promise<number>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, host, () => {
      srv.off('error', reject);
      resolve((srv.address() as AddressInfo).port);
    });
  });

/**
 * mqtt-packet (aedes' encoder, resolved from aedes so it is the same copy) keeps a Buffer for
 * every 2-byte number, 65,536 of them (about 6 MB of heap, README "Benchmarks"), made at the first
 * packet it writes. Off, it makes the 2 bytes a packet needs when it writes them (its documented
 * `writeToStream.cacheNumbers`); must be set before the first write.
 */
function noNumberCache(): void {
  const fromAedes = createRequire(createRequire(import.meta.url).resolve('aedes'));
  (fromAedes('mqtt-packet') as typeof MqttPacket).writeToStream.cacheNumbers = false;
}

export function brokerPlugin(opts: BrokerOptions = {}): HubPlugin {
  let broker: Aedes | undefined;
  let server: net.Server | undefined;
  let tlsServer: tls.Server | undefined;
  let offConfig: (() => void) | undefined;
  const stop = async () => {
    offConfig?.();
    const servers = [server, tlsServer];
    const b = broker;
    server = undefined;
    tlsServer = undefined;
    broker = undefined;
    if (b) await new Promise<void>((resolve) => b.close(() => resolve()));
    // a listener that never listened (its port taken) has nothing to close
    await Promise.all(servers.map((srv) => new Promise<void>((resolve) => (srv?.listening ? srv.close(() => resolve()) : resolve()))));
  };
  return {
    name: 'broker',
    // connections open only once every consumer of what nodes send is listening on the bus
    needs: ['ingest', 'live-engine', 'history'],
    async start(ctx: HubContext) {
      const log = ctx.log.child({ name: 'hub:broker' });
      const access = brokerAccess({ config: () => ctx.config, log });
      const logRefusal = rateLimitedLog(log, 10_000);
      // from the broker asking to the gate's go-ahead: the journal commit, the engine's hand-over and any
      // turn the publish waited for, which is what the hub adds to a PUBACK (README "Benchmarks")
      const acks = latencyWindow(MQTT_ACK_WINDOW);
      ctx.runtime.mqttAckMs = () => acks.figures();
      noNumberCache();
      // a CONNECT must come within 10 s of the TCP connection, and every client must keep alive
      // (0 = never, refused) at most every 5 min: idle sockets are closed, not kept for ever
      broker = await Aedes.createBroker({ drainTimeout: 10_000, connectTimeout: 10_000, keepaliveLimit: 300 });
      const b = broker;
      // access first, then ingest: two hooks, each in its own module
      b.authenticate = (client, username, password, callback) => {
        access.authenticate(client, username, password).then(
          (who) => {
            if (typeof who === 'object') return callback(null, true);
            ctx.metrics.refuseConnect(who);
            logRefusal(`connect:${who}`, { reason: who, client: client.id, username, address: remoteAddress(client) }, 'connection refused');
            // CONNACK 4 (bad user name or password), 2 (identifier rejected) for a node's client id
            callback(Object.assign(new Error(who), { returnCode: who === 'client-id-taken' ? 2 : 4 }), false);
          },
          (err: unknown) => {
            log.error({ err, client: client.id }, 'authentication failed');
            callback(Object.assign(new Error('authentication failed'), { returnCode: 5 }), false);
          },
        );
      };
      b.authorizePublish = (client, packet, callback) => {
        if (packet.topic.startsWith('$SYS/')) return callback(new Error('$SYS/ topic is reserved'));
        // client is null only for the hub's own publishes, which do not come through here
        const refused = client ? access.publishRefusal(client, packet) : 'no client';
        if (refused) {
          ctx.metrics.refusePublish();
          logRefusal(`publish:${client?.id ?? ''}`, { client: client?.id, topic: packet.topic, address: client ? remoteAddress(client) : undefined }, `publish refused: ${refused}`);
          return callback(new Error(refused));
        }
        const gate = opts.gate;
        if (!gate) return callback(null);
        const asked = performance.now();
        // at once, or in a later turn of the loop once this stretch is over its budget (a burst)
        ctx.turn.run(() => {
          try {
            // the PUBACK goes only once the gate says so (an accepted event is durable by then);
            // an error means no PUBACK, and on MQTT 3.1.1 the connection closes: the node sends again
            gate(client, packet, (err) => {
              if (!err) acks.add(performance.now() - asked);
              callback(err ?? null);
            });
          } catch (err) {
            // a bug in a gate must not drop the node's connection: log it and go on
            log.error({ err, topic: packet.topic }, 'publish gate failed');
            callback(null);
          }
        });
      };
      b.authorizeSubscribe = (client, sub, callback) => {
        if (client && access.subscribeAllowed(client, sub)) return callback(null, sub);
        logRefusal(`subscribe:${client?.id ?? ''}`, { client: client?.id, topic: sub.topic }, 'subscription refused');
        callback(null, null); // SUBACK 0x80 for this topic; the connection stays
      };
      const connected = new Set<Client>();
      b.on('client', (client) => connected.add(client));
      b.on('clientDisconnect', (client) => {
        connected.delete(client);
        access.forget(client);
      });
      // a login taken out of the store file (a stolen node, a user who left) or given a new
      // password ends that connection at the reload, not at the next reconnect
      offConfig = ctx.bus.on('config:changed', ({ config }) => {
        for (const client of [...connected]) {
          if (access.stillValid(client, config)) continue;
          log.warn({ client: client.id, address: remoteAddress(client) }, 'login no longer in the store file: connection closed');
          client.close();
        }
      });
      // a scan or a broken client makes these by the thousand: one line per address and error every 10 s
      b.on('clientError', (client, err) => logRefusal(`error:${remoteAddress(client) ?? ''}:${err.message}`, { client: client.id, address: remoteAddress(client), err: err.message }, 'client error'));
      // aedes' own CONNECT checks refuse before any login is looked at: counted and logged as the logins are
      b.on('connectionError', (client, err) => {
        const reason = connectErrorReason(err);
        if (!reason) return; // a socket that broke before its CONNECT: nothing was refused
        ctx.metrics.refuseConnect(reason.reason);
        logRefusal(`connect:${reason.reason}:${remoteAddress(client) ?? ''}`, { reason: reason.reason, address: remoteAddress(client), err: err.message }, reason.message);
      });
      const guard = mqttGuard(opts.guard, (reason, address) => {
        ctx.metrics.refuseConnect(reason);
        logRefusal(`guard:${reason}:${address ?? ''}`, { reason, address }, 'connection dropped by the guard');
      });
      // read by /metrics (hub/prometheus.ts)
      ctx.runtime.mqttConnections = () => ({ open: guard.stats().open, clients: connected.size });
      const accept = (socket: net.Socket) => {
        // a PUBACK is 4 bytes: with Nagle on it waits for the peer's delayed ACK (40 ms on Linux)
        socket.setNoDelay(true);
        const stream = guard.accept(socket);
        if (stream) b.handle(stream);
      };
      const mq = ctx.config.hub.mqtt;
      try {
        // the TLS files are read before anything listens; the guard stands in front of both listeners
        tlsServer = mqttTlsServer(mq, accept, (err, address) => {
          ctx.metrics.refuseConnect('tls-handshake');
          logRefusal(`tls:${address ?? ''}`, { address, err: err.message }, 'TLS handshake failed');
        }, log);
        if (mq.plain !== false) {
          server = net.createServer(accept);
          ctx.runtime.mqttPort = await listen(server, mq.port, mq.host);
        }
        if (tlsServer && mq.tls) ctx.runtime.mqttTlsPort = await listen(tlsServer, mq.tls.port, mq.host);
      } catch (err) {
        // the hub stops only plugins that started: release what this one opened
        await stop();
        throw err;
      }
      ctx.runtime.publish = (topic, payload, o) =>
        new Promise<void>((resolve, reject) => {
          b.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: o.qos, retain: o.retain, dup: false }, (err) =>
            err ? reject(err) : resolve(),
          );
        });
      ctx.runtime.subscribe = (topic, fn) => {
        const handler = (packet: PublishPacket, cb: () => void) => {
          try {
            fn(packet.topic, packet.payload.toString('utf8'));
          } catch (err) {
            log.error({ err, topic }, 'hub subscriber failed');
          }
          cb();
        };
        b.subscribe(topic, handler, () => {});
        return () => b.unsubscribe(topic, handler, () => {});
      };
      log.info({ port: ctx.runtime.mqttPort ?? null, tlsPort: ctx.runtime.mqttTlsPort ?? null }, 'MQTT broker listening');
    },
    stop,
  };
}
