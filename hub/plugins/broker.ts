import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import type { Client, PublishPacket } from 'aedes';
import type { HubContext, HubPlugin } from '../context.ts';

// The embedded MQTT broker (aedes) on a TCP listener. Other plugins see incoming
// publishes through `gate`, which runs before aedes acknowledges a QoS 1 publish:
// what the gate records is durable before the node hears PUBACK.

export type PublishGate = (client: Client | null, packet: PublishPacket) => void;

export interface BrokerOptions {
  /** called for every incoming publish before it is acknowledged; must not throw */
  gate?: PublishGate;
}

export function brokerPlugin(opts: BrokerOptions = {}): HubPlugin {
  let broker: Aedes | undefined;
  let server: net.Server | undefined;
  return {
    name: 'broker',
    async start(ctx: HubContext) {
      const log = ctx.log.child({ name: 'hub:broker' });
      broker = await Aedes.createBroker({ drainTimeout: 10_000 });
      const b = broker;
      b.authorizePublish = (client, packet, callback) => {
        if (packet.topic.startsWith('$SYS/')) return callback(new Error('$SYS/ topic is reserved'));
        try {
          opts.gate?.(client, packet);
        } catch (err) {
          // a bug in a gate must not drop the node's connection: log it and go on
          log.error({ err, topic: packet.topic }, 'publish gate failed');
        }
        callback(null);
      };
      b.on('clientError', (client, err) => log.warn({ client: client.id, err: err.message }, 'client error'));
      server = net.createServer(b.handle);
      const srv = server;
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(ctx.config.hub.mqtt.port, ctx.config.hub.mqtt.host, () => {
          srv.off('error', reject);
          resolve();
        });
      });
      ctx.runtime.mqttPort = (srv.address() as AddressInfo).port;
      ctx.runtime.publish = (topic, payload, o) =>
        new Promise<void>((resolve, reject) => {
          b.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: o.qos, retain: o.retain, dup: false }, (err) =>
            err ? reject(err) : resolve(),
          );
        });
      log.info({ port: ctx.runtime.mqttPort }, 'MQTT broker listening');
    },
    async stop() {
      const srv = server;
      const b = broker;
      server = undefined;
      broker = undefined;
      if (b) await new Promise<void>((resolve) => b.close(() => resolve()));
      if (srv) await new Promise<void>((resolve) => srv.close(() => resolve()));
    },
  };
}
