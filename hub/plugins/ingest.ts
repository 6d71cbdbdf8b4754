import type { Client, PublishPacket } from 'aedes';
import { decodeStatus, ErrorCodes, parseJsonText, parseTopic, validateEvent, type ErrorCode } from '../../contract/index.ts';
import type { HubContext, HubPlugin } from '../context.ts';
import type { BusEvents } from '../bus.ts';
import { nodeCheck, timeCheck } from '../engine/replay.ts';
import { PendingReceipts } from '../pending-receipts.ts';
import { rateLimitedLog } from '../rate-limited-log.ts';

// Every publish from a node passes here before the broker acknowledges it
// (CONTRACT.md: an event that does not match is rejected, counted per node and
// reason, logged, and never affects other events). Accepted events are made durable
// in the trace, then acknowledged, then handed to the bus; so are events refused only for
// their time, which go no further than the trace.

/** an event is a few hundred bytes; anything this large is a fault or an attack */
const MAX_PAYLOAD = 64 * 1024;

type Accepted = BusEvents['event:accepted'];

/** `done` runs when the publish may be acknowledged: at once for what is not kept, after the trace write for an event that is */
export type IngestGate = (client: Client | null, packet: PublishPacket, done: (err?: Error) => void) => void;

export function ingestPlugin(): HubPlugin & { gate: IngestGate } {
  let ctx: HubContext | undefined;
  let member: ReturnType<typeof nodeCheck> = () => null;
  let log: HubContext['log'] | undefined;
  let offConfig: (() => void) | undefined;
  let logLimited: ReturnType<typeof rateLimitedLog> = () => undefined;
  const pending = new PendingReceipts();
  /** durable and acknowledged, not yet with the engine: in trace order */
  let handing: Accepted[] = [];
  // The engine (and every other listener) gets a commit's events after the turn that sent
  // their PUBACKs: those go out when the loop leaves that turn (the sockets are corked until
  // then, hub/mqtt-guard.ts), so no engine or view work holds an acknowledgement back. Until
  // it has them, each one's receipt stays pending and hub time waits for it.
  const handOver = (c: HubContext, a: Accepted): void => {
    handing.push(a);
    if (handing.length === 1) setImmediate(() => giveToEngine(c));
  };
  const giveToEngine = (c: HubContext): void => {
    const batch = handing;
    handing = [];
    for (const a of batch) {
      c.turn.run(() => {
        pending.remove(a.recvMs);
        if (ctx !== c) return;
        try {
          c.bus.emit('event:accepted', a);
        } catch (err) {
          // a listener's fault, not the event's: it is acknowledged and in the trace, and the rest of the commit still goes on
          log?.error({ err, node: a.node }, 'a listener failed on an accepted event');
        }
      });
    }
  };

  const reject = (node: string | null, topic: string, code: ErrorCode, reason: string) => {
    if (!ctx) return;
    ctx.metrics.reject(node, code);
    // a node that keeps sending bad events would flood the log: one line per node and reason every 10 s
    logLimited(`${node ?? ''}:${code}`, { node, topic, code }, reason);
  };

  const plugin: HubPlugin & { gate: IngestGate } = {
    name: 'ingest',
    needs: ['live-engine'], // accepted events must find the engine listening
    async start(c) {
      ctx = c;
      log = c.log.child({ name: 'hub:ingest' });
      logLimited = rateLimitedLog(log, 10_000);
      member = nodeCheck(c.config);
      // the hub's own sources (Zigbee2MQTT buttons) go through the same gate as any node
      c.runtime.ingest = (topic, payload) =>
        new Promise<void>((resolve, reject) => {
          const packet = { cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: false, dup: false } as PublishPacket;
          plugin.gate(null, packet, (err) => (err ? reject(err) : resolve()));
        });
      c.runtime.pendingSince = () => pending.floor();
      offConfig = c.bus.on('config:changed', ({ config }) => {
        member = nodeCheck(config);
      });
    },
    async stop() {
      offConfig?.();
      ctx = undefined;
    },
    gate(_client, packet, done) {
      const c = ctx;
      if (!c) return done();
      const t = parseTopic(packet.topic);
      if (!t || t.kind !== 'node') return done(); // not a node channel: other apps may share the broker
      if (t.channel !== 'events' && t.channel !== 'status') return done();
      // a rejected event is acknowledged too: it will never become valid, and the node should not resend it
      const refuse = (code: ErrorCode, reason: string) => {
        reject(t.node, packet.topic, code, reason);
        done();
      };
      const stranger = member(t.store, t.node);
      if (stranger) return refuse(stranger.code, stranger.reason);
      if (packet.payload.length > MAX_PAYLOAD) {
        return refuse(ErrorCodes.EVENT_ENVELOPE, `payload of ${packet.payload.length} bytes is over the ${MAX_PAYLOAD} byte limit`);
      }
      const recvMs = c.clock.now();
      if (t.channel === 'status') {
        const s = decodeStatus(packet.payload);
        if (!s.ok) return refuse(s.code, s.reason);
        c.bus.emit('node:status', { node: t.node, status: s.value, recvMs });
        return done();
      }
      const parsed = parseJsonText(packet.payload);
      if (!parsed.ok) return refuse(parsed.code, parsed.reason);
      const v = validateEvent(parsed.value, { expect: { store: t.store, node: t.node } });
      if (!v.ok) return refuse(v.code, v.reason);
      const skew = timeCheck(v.value, recvMs, c.config.rules.maxSkewS);
      // refused, yet recorded like any event: a node may have held it through an outage longer
      // than maxSkewS, and once acknowledged it is gone from the node. Replay and recovery refuse
      // it by the same rule (README "Order, duplicates and clocks"): it never reaches the engine.
      if (skew) reject(t.node, packet.topic, skew.code, skew.reason);
      const event = v.value;
      let acknowledged = false;
      try {
        // durable first (README "Reliability"): the PUBACK waits for the trace, the engine sees the event after it
        const written = (err?: Error) => {
          acknowledged = true;
          if (err) {
            if (!skew) pending.remove(recvMs);
            c.metrics.traceFailed(err);
            logLimited(`trace:${t.node}`, { node: t.node, err: err.message, code: ErrorCodes.TRACE_IO }, 'trace write failed: event not acknowledged; the node keeps it and sends it again');
            return done(err);
          }
          // a commit hands over thousands of events in a burst: the PUBACKs take turns with the loop
          c.turn.run(() => {
            // queued first (it only schedules): a throw from the broker's side cannot strand the receipt
            if (!skew) handOver(c, { event, node: t.node, recvMs });
            done();
          });
        };
        // the text as it came is the trace line (hub/trace-recorder.ts traceLine)
        if (!skew) pending.add(recvMs);
        c.recorder.record(event, recvMs, written, parsed.text);
      } catch (err) {
        // a failure after the acknowledgement is not the event's: let the broker's guard log it
        if (acknowledged) throw err;
        if (skew) return done(); // counted above
        pending.remove(recvMs);
        // an event the trace cannot hold is refused and counted, never dropped uncounted
        return refuse(ErrorCodes.EVENT_ENVELOPE, `event cannot be recorded: ${(err as Error).message}`);
      }
    },
  };
  return plugin;
}
