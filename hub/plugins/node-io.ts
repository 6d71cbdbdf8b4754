import { topics, type NodeCmd } from '../../contract/index.ts';
import { nodeEffectiveConfig } from '../../firmware-config/hash.ts';
import type { HubContext, HubPlugin } from '../context.ts';

// What the hub publishes on MQTT (CONTRACT.md "MQTT topics"): each node's effective
// config (retained), indicator commands, and closed visits for third parties.

export function nodeIoPlugin(): HubPlugin {
  const offs: (() => void)[] = [];
  return {
    name: 'node-io',
    needs: ['broker'], // publishes through ctx.runtime.publish
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
        ctx.bus.on('config:changed', ({ config, previous }) => {
          // nodes apply a new retained config without a restart (CONTRACT.md "MQTT topics", config)
          for (const n of config.nodes) {
            const next = nodeEffectiveConfig(config, n.id);
            const had = previous.nodes.some((p) => p.id === n.id);
            if (!had || nodeEffectiveConfig(previous, n.id).cfghash !== next.cfghash) publish(topics.config(store, n.id), next, true);
          }
          // a node taken out of the store file: its retained config is cleared (an empty retained message)
          for (const p of previous.nodes) {
            if (config.nodes.some((n) => n.id === p.id)) continue;
            ctx.runtime.publish?.(topics.config(store, p.id), '', { qos: 1, retain: true }).catch((err: unknown) =>
              log.warn({ node: p.id, err: (err as Error).message }, 'clearing the retained config failed'),
            );
          }
        }),
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
