import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Id } from './ids.ts';

// CONTRACT.md "Event envelope": CloudEvents 1.0, JSON structured mode.
// Schemas allow extra properties on purpose: the contract lets code add optional
// fields and extension attributes (the hub adds `recvtime` to recorded traces).

export const RFC3339_PATTERN =
  '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2})$';

const Time = Type.String({ pattern: RFC3339_PATTERN, description: 'RFC 3339 time' });

export const EntryData = Type.Object({ sensor: Id(), direction: Type.Union([Type.Literal('in'), Type.Literal('out')]) });
export const DoorData = Type.Object({ sensor: Id(), state: Type.Union([Type.Literal('open'), Type.Literal('closed')]) });
export const PresenceData = Type.Object({
  sensor: Id(),
  zone: Id(),
  state: Type.Union([Type.Literal('on'), Type.Literal('off')]),
  distanceCm: Type.Optional(Type.Number({ minimum: 0 })),
});
export const GreetData = Type.Object({ button: Id(), staff: Type.Optional(Id()) });
export const StaffPassData = Type.Object({ button: Id(), staff: Type.Optional(Id()) });
export const FaultData = Type.Object({
  sensor: Id(),
  kind: Type.Union([Type.Literal('stuck'), Type.Literal('chatter'), Type.Literal('disconnected'), Type.Literal('recovered')]),
  detail: Type.Optional(Type.String({ maxLength: 500 })),
});

/** Event `type` → schema of its `data`. The single list of event types. */
export const EVENT_DATA = {
  'greetwatch.entry.v1': EntryData,
  'greetwatch.door.v1': DoorData,
  'greetwatch.presence.v1': PresenceData,
  'greetwatch.greet.v1': GreetData,
  'greetwatch.staffpass.v1': StaffPassData,
  'greetwatch.fault.v1': FaultData,
} as const satisfies Record<string, TSchema>;

export type EventType = keyof typeof EVENT_DATA;
export const EVENT_TYPES = Object.keys(EVENT_DATA) as EventType[];
export const EventTypes = {
  entry: 'greetwatch.entry.v1',
  door: 'greetwatch.door.v1',
  presence: 'greetwatch.presence.v1',
  greet: 'greetwatch.greet.v1',
  staffpass: 'greetwatch.staffpass.v1',
  fault: 'greetwatch.fault.v1',
} as const satisfies Record<string, EventType>;

/** The envelope without `data`/`type` narrowing: validated first, so errors name the field. */
export const Envelope = Type.Object({
  specversion: Type.Literal('1.0'),
  id: Type.String({ minLength: 1, maxLength: 128 }),
  source: Type.String({ minLength: 1, maxLength: 256 }),
  type: Type.String({ minLength: 1, maxLength: 128 }),
  time: Time,
  bootid: Type.String({ minLength: 1, maxLength: 64 }),
  seq: Type.Integer({ minimum: 1 }),
  datacontenttype: Type.Optional(Type.Literal('application/json')),
  data: Type.Unknown(),
  /** extension: hub receive time, added to recorded traces (CONTRACT.md "Replay") */
  recvtime: Type.Optional(Time),
  /** extension: the node clock when the event was published (later than `time` for a crossing,
   *  or after a buffer flush); the hub's clock offset estimate uses it when present */
  senttime: Type.Optional(Time),
});
export type Envelope = Static<typeof Envelope>;

type DataOf<T extends EventType> = Static<(typeof EVENT_DATA)[T]>;
/** A contract event: the envelope with `type` and `data` tied together. */
export type GwEvent = {
  [T in EventType]: Omit<Envelope, 'type' | 'data'> & { type: T; data: DataOf<T> };
}[EventType];
export type EventOf<T extends EventType> = Extract<GwEvent, { type: T }>;

export type EntryEvent = EventOf<'greetwatch.entry.v1'>;
export type GreetEvent = EventOf<'greetwatch.greet.v1'>;
export type PresenceEvent = EventOf<'greetwatch.presence.v1'>;
export type StaffPassEvent = EventOf<'greetwatch.staffpass.v1'>;
export type DoorEvent = EventOf<'greetwatch.door.v1'>;
export type FaultEvent = EventOf<'greetwatch.fault.v1'>;

// --- status / cmd payloads (CONTRACT.md "MQTT topics") ---
/** Extension: whether the node's wall clock is NTP-synchronised (chrony or timedatectl; "unknown" without either). */
export const ClockSync = Type.Object({
  sync: Type.Union([Type.Literal('synced'), Type.Literal('unsynced'), Type.Literal('unknown')]),
  source: Type.Union([Type.Literal('chrony'), Type.Literal('timedatectl'), Type.Literal('none')]),
  /** the time daemon's estimate of the clock error, ms (positive: fast) */
  offsetMs: Type.Optional(Type.Number()),
});
export type ClockSync = Static<typeof ClockSync>;

export const OnlineStatus = Type.Object({
  state: Type.Literal('online'),
  bootid: Type.String({ minLength: 1 }),
  fw: Type.String(),
  cfghash: Type.String(),
  time: Time,
  // extensions (optional, CONTRACT.md lets code add them): refreshed every statusEveryS
  uptimeS: Type.Optional(Type.Number({ minimum: 0 })),
  /** events waiting in the node's outbox for a PUBACK */
  outbox: Type.Optional(Type.Integer({ minimum: 0 })),
  /** events the full outbox dropped (oldest first) since the node started */
  dropped: Type.Optional(Type.Integer({ minimum: 0 })),
  clock: Type.Optional(ClockSync),
});
export type OnlineStatus = Static<typeof OnlineStatus>;
export const OfflineStatus = Type.Object({ state: Type.Literal('offline') });
export const NodeStatus = Type.Union([OnlineStatus, OfflineStatus]);
export type NodeStatus = Static<typeof NodeStatus>;

export const IndicatorLevel = Type.Union([Type.Literal('off'), Type.Literal('warn'), Type.Literal('late')]);
export type IndicatorLevel = Static<typeof IndicatorLevel>;
export const IndicateCmd = Type.Object({ type: Type.Literal('indicate'), level: IndicatorLevel });
export type IndicateCmd = Static<typeof IndicateCmd>;
export const NodeCmd = IndicateCmd;
export type NodeCmd = Static<typeof NodeCmd>;
