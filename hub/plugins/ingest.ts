import type { Client, PublishPacket } from 'aedes';
import { decodeEvent, decodeStatus, ErrorCodes, parseTopic, type ErrorCode } from '../../contract/index.ts';
import type { HubContext, HubPlugin } from '../context.ts';
import { timeCheck } from '../engine/replay.ts';

// Every publish from a node passes here before the broker acknowledges it
// (CONTRACT.md: an event that does not match is rejected, counted per node and
// reason, logged, and never affects other events). Accepted events are recorded
// to the trace, then handed to the bus.

/** an event is a few hundred bytes; anything this large is a fault or an attack */
const MAX_PAYLOAD = 64 * 1024;

export function ingestPlugin(): HubPlugin & { gate: (client: Client | null, packet: PublishPacket) => void } {
  let ctx: HubContext | undefined;
  let known = new Set<string>();
  let log: HubContext['log'] | undefined;
  let offConfig: (() => void) | undefined;

  const reject = (node: string | null, topic: string, code: ErrorCode, reason: string) => {
    if (!ctx) return;
    ctx.metrics.reject(node, code);
    log?.warn({ node, topic, code }, reason);
    ctx.bus.emit('event:rejected', { node, topic, code, reason });
  };

  return {
    name: 'ingest',
    async start(c) {
      ctx = c;
      log = c.log.child({ name: 'hub:ingest' });
      known = new Set(c.config.nodes.map((n) => n.id));
      offConfig = c.bus.on('config:changed', ({ config }) => {
        known = new Set(config.nodes.map((n) => n.id));
      });
    },
    async stop() {
      offConfig?.();
      ctx = undefined;
    },
    gate(_client, packet) {
      const c = ctx;
      if (!c) return;
      const t = parseTopic(packet.topic);
      if (!t || t.kind !== 'node') return; // not a node channel: other apps may share the broker
      if (t.channel !== 'events' && t.channel !== 'status') return;
      if (t.store !== c.config.store.id) {
        return reject(t.node, packet.topic, ErrorCodes.UNKNOWN_STORE, `store ${t.store} is not served by this hub (${c.config.store.id})`);
      }
      if (known.size > 0 && !known.has(t.node)) {
        return reject(t.node, packet.topic, ErrorCodes.UNKNOWN_NODE, `node ${t.node} is not in the store config`);
      }
      if (packet.payload.length > MAX_PAYLOAD) {
        return reject(t.node, packet.topic, ErrorCodes.EVENT_ENVELOPE, `payload of ${packet.payload.length} bytes is over the ${MAX_PAYLOAD} byte limit`);
      }
      const recvMs = c.clock.now();
      if (t.channel === 'status') {
        const s = decodeStatus(packet.payload);
        if (!s.ok) return reject(t.node, packet.topic, s.code, s.reason);
        c.bus.emit('node:status', { node: t.node, status: s.value, recvMs });
        return;
      }
      const v = decodeEvent(packet.payload, { expect: { store: t.store, node: t.node } });
      if (!v.ok) return reject(t.node, packet.topic, v.code, v.reason);
      const skew = timeCheck(v.value, recvMs, c.config.rules.maxSkewS);
      if (skew) return reject(t.node, packet.topic, skew.code, skew.reason);
      c.recorder.record(v.value, recvMs);
      c.bus.emit('event:accepted', { event: v.value, node: t.node, recvMs });
    },
  };
}
