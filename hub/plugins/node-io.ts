import { topics, type NodeCmd } from '../../contract/index.ts';
import { nodeEffectiveConfig } from '../../firmware-config/hash.ts';
import type { HubContext, HubPlugin } from '../context.ts';

// What the hub publishes on MQTT (CONTRACT.md "MQTT topics"): each node's effective
// config (retained), indicator commands, and closed visits for third parties.

export function nodeIoPlugin(): HubPlugin {
  const offs: (() => void)[] = [];
  return {
    name: 'node-io',
    async start(ctx: HubContext) {
      const log = ctx.log.child({ name: 'hub:node-io' });
      const store = ctx.config.store.id;
      const publish = (topic: string, payload: unknown, retain: boolean) => {
        const pub = ctx.runtime.publish;
        if (!pub) return;
        pub(topic, JSON.stringify(payload), { qos: 1, retain }).catch((err: unknown) =>
          log.warn({ topic, err: (err as Error).message }, 'publish failed'),
        );
      };
      for (const n of ctx.config.nodes) publish(topics.config(store, n.id), nodeEffectiveConfig(ctx.config, n.id), true);
      offs.push(
        ctx.bus.on('indicator:set', ({ node, level }) => {
          if (!ctx.config.nodes.find((n) => n.id === node)?.indicator) return;
          const cmd: NodeCmd = { type: 'indicate', level };
          publish(topics.cmd(store, node), cmd, false);
        }),
        ctx.bus.on('visit:final', ({ visit }) => publish(topics.visits(store), visit, false)),
      );
    },
    async stop() {
      for (const off of offs.splice(0)) off();
    },
  };
}
