import { randomBytes } from 'node:crypto';
import { ulid } from 'ulid';
import { ErrorCodes, sourceOf, topics } from '../../contract/index.ts';
import type { StoreConfig } from '../../firmware-config/schema.ts';
import type { HubContext, HubPlugin } from '../context.ts';
import { rateLimitedLog } from '../rate-limited-log.ts';

// Zigbee2MQTT buttons as greet and staffpass buttons (README "Zigbee2MQTT buttons").
// Zigbee2MQTT publishes a device's state on `{baseTopic}/{friendly name}` as JSON, with
// `action` set for a button press (`{"action":"single","battery":97,…}`), often followed by
// `{"action":""}`. The hub maps friendly names and actions from the store file and makes
// contract events of them, as a node of its own (integrations.zigbee2mqtt.node) timed on
// receipt, and hands them to ingest: validated, counted and traced like any node's.

type Z2m = StoreConfig['integrations']['zigbee2mqtt'];

export function zigbee2mqttPlugin(): HubPlugin {
  let stop: (() => Promise<void>) | undefined;
  return {
    name: 'zigbee2mqtt',
    needs: ['broker', 'ingest'],
    async start(ctx: HubContext) {
      const log = ctx.log.child({ name: 'hub:zigbee2mqtt' });
      const say = rateLimitedLog(log, 10_000);
      const z = (): Z2m => ctx.config.integrations.zigbee2mqtt;
      const first = z();
      if (first.buttons.length === 0) return;
      const store = ctx.config.store.id;
      // one boot per hub run; seq counts from 1 (CONTRACT.md "Event envelope")
      const bootid = randomBytes(6).toString('base64url');
      let seq = 0;

      const onMessage = (topic: string, payload: string) => {
        const cfg = z();
        const name = topic.slice(cfg.baseTopic.length + 1);
        if (name === '' || name.startsWith('bridge') || name.includes('/')) return; // bridge state, /set, /availability
        let state: unknown;
        try {
          state = JSON.parse(payload);
        } catch {
          ctx.metrics.reject(cfg.node, ErrorCodes.EVENT_JSON);
          say(`json:${name}`, { device: name }, 'Zigbee2MQTT message is not JSON');
          return;
        }
        const action = typeof state === 'object' && state !== null ? (state as { action?: unknown }).action : undefined;
        if (typeof action !== 'string' || action === '') return; // a state report (battery, link quality), not a press
        const button = cfg.buttons.find((b) => b.friendlyName === name);
        const kind = button?.actions[action];
        if (!button || !kind) {
          ctx.metrics.reject(cfg.node, ErrorCodes.UNKNOWN_DEVICE);
          say(`device:${name}:${action}`, { device: name, action, code: ErrorCodes.UNKNOWN_DEVICE }, button ? 'Zigbee2MQTT action not mapped in the store file' : 'Zigbee2MQTT device not in the store file');
          return;
        }
        const now = new Date(ctx.clock.now()).toISOString();
        seq++;
        const ev = {
          specversion: '1.0',
          id: ulid(),
          source: sourceOf(store, cfg.node),
          type: kind === 'greet' ? 'greetwatch.greet.v1' : 'greetwatch.staffpass.v1',
          time: now,
          senttime: now,
          bootid,
          seq,
          datacontenttype: 'application/json',
          data: button.staff ? { button: button.id, staff: button.staff } : { button: button.id },
        };
        ctx.runtime.ingest?.(topics.events(store, cfg.node), JSON.stringify(ev)).catch((err: unknown) => {
          // not traced (a full disk): the press is lost, as a node's would be kept; say it
          say(`ingest:${cfg.node}`, { err: (err as Error).message, device: name }, 'Zigbee2MQTT press not recorded');
        });
      };

      if (first.url) {
        // Zigbee2MQTT on another broker (Home Assistant's, say): the hub subscribes there
        // the MQTT client is loaded only for this case (idle memory: README "Benchmarks")
        const { default: mqtt } = await import('mqtt');
        const client = mqtt.connect(first.url, {
          ...(first.username ? { username: first.username } : {}),
          ...(first.password ? { password: first.password } : {}),
          clientId: `greetwatch-${store}-z2m`,
          reconnectPeriod: 2000,
        });
        client.on('message', (t, p) => onMessage(t, p.toString('utf8')));
        client.on('connect', () => {
          log.info({ url: first.url?.replace(/\/\/[^@]*@/, '//***@') }, 'reading Zigbee2MQTT buttons');
          client.subscribe(`${first.baseTopic}/+`, { qos: 0 });
        });
        client.on('error', (err) => say('broker', { err: err.message }, 'Zigbee2MQTT broker unreachable; retrying'));
        stop = async () => {
          await client.endAsync(true);
        };
      } else {
        const unsub = ctx.runtime.subscribe?.(`${first.baseTopic}/+`, onMessage);
        stop = async () => unsub?.();
      }
    },
    async stop() {
      await stop?.();
      stop = undefined;
    },
  };
}
