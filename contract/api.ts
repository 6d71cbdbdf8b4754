import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { ClockSync, FaultData } from './events.ts';
import { Id } from './ids.ts';

// Shapes of what the hub publishes and serves: closed visits (MQTT `visits`),
// the report and live API (CONTRACT.md "HTTP"). Dashboard and tests import these.

export const Outcome = Type.Union([
  Type.Literal('met'),
  Type.Literal('late'),
  Type.Literal('walkout'),
  Type.Literal('shortWalkout'),
  Type.Literal('missed'),
  Type.Literal('pending'),
]);
export type Outcome = Static<typeof Outcome>;

const Nullable = <T extends ReturnType<typeof Type.Number>>(t: T) => Type.Union([t, Type.Null()]);

/** One party's visit. Times are hub-corrected (node clock offset removed), ISO UTC. */
export const Visit = Type.Object({
  store: Id(),
  /** stable party id: the id of the party's first `in` event */
  party: Type.String(),
  outcome: Outcome,
  entryTime: Type.String(),
  size: Type.Integer({ minimum: 1 }),
  greetTime: Type.Optional(Type.String()),
  ttgS: Type.Optional(Type.Number({ minimum: 0 })),
  staff: Type.Optional(Id()),
  /** first steps-line breach attributed to the party */
  breachTime: Type.Optional(Type.String()),
  /** time of the `out` that marked the party as leaving (walkouts) */
  markTime: Type.Optional(Type.String()),
  closedTime: Type.Optional(Type.String()),
});
export type Visit = Static<typeof Visit>;

export const Bucket = Type.Object({
  visits: Type.Integer(),
  met: Type.Integer(),
  late: Type.Integer(),
  walkouts: Type.Integer(),
  shortWalkouts: Type.Integer(),
  missed: Type.Integer(),
  serviceLevel: Nullable(Type.Number()),
  asgS: Nullable(Type.Number()),
});
export type Bucket = Static<typeof Bucket>;

export const HourBucket = Type.Composite([Type.Object({ hour: Type.Integer({ minimum: 0, maximum: 23 }) }), Bucket]);
export const WeekdayBucket = Type.Composite([
  Type.Object({ weekday: Type.Union(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => Type.Literal(d))) }),
  Bucket,
]);
export const StaffFigures = Type.Object({ greets: Type.Integer(), met: Type.Integer(), asgS: Nullable(Type.Number()) });

/** CONTRACT.md "HTTP": GET /api/stores/{store}/report. `orphanGreets` is our extension. */
export const Report = Type.Object({
  store: Id(),
  from: Type.String(),
  to: Type.String(),
  visits: Type.Integer(),
  met: Type.Integer(),
  late: Type.Integer(),
  walkouts: Type.Integer(),
  shortWalkouts: Type.Integer(),
  missed: Type.Integer(),
  pending: Type.Integer(),
  serviceLevel: Nullable(Type.Number()),
  serviceLevelStrict: Nullable(Type.Number()),
  asgS: Nullable(Type.Number()),
  p50S: Nullable(Type.Number()),
  p90S: Nullable(Type.Number()),
  maxS: Nullable(Type.Number()),
  byHour: Type.Array(HourBucket),
  byWeekday: Type.Array(WeekdayBucket),
  byStaff: Type.Record(Type.String(), StaffFigures),
  orphanGreets: Type.Integer(),
  /** present when the figures may be incomplete, e.g. history (InfluxDB) could not be read */
  warnings: Type.Optional(Type.Array(Type.String())),
});
export type Report = Static<typeof Report>;

export const PartyLevel = Type.Union([Type.Literal('ok'), Type.Literal('warn'), Type.Literal('late')]);
export type PartyLevel = Static<typeof PartyLevel>;

export const OpenParty = Type.Object({
  party: Type.String(),
  entryTime: Type.String(),
  waitingS: Type.Number(),
  size: Type.Integer(),
  level: PartyLevel,
  leaving: Type.Boolean(),
  breached: Type.Boolean(),
});
export type OpenParty = Static<typeof OpenParty>;

/** The latest greetwatch.fault.v1 of one sensor, as the hub keeps it. */
export const SensorFault = Type.Object({
  sensor: Id(),
  kind: FaultData.properties.kind,
  detail: Type.Optional(Type.String()),
  /** the fault's time, hub-corrected, ISO UTC */
  time: Type.String(),
});
export type SensorFault = Static<typeof SensorFault>;

export const NodeHealth = Type.Object({
  node: Id(),
  online: Type.Boolean(),
  lastSeen: Type.Union([Type.String(), Type.Null()]),
  bootid: Type.Union([Type.String(), Type.Null()]),
  fw: Type.Union([Type.String(), Type.Null()]),
  /** estimated node clock offset (hub − node), ms */
  offsetMs: Type.Union([Type.Number(), Type.Null()]),
  /** |offset| above the flag threshold (2 s) */
  clockFlag: Type.Boolean(),
  events: Type.Integer(),
  duplicates: Type.Integer(),
  /** seq gaps seen per bootid: events the node sent that never arrived */
  lost: Type.Integer(),
  /** events that arrived later than reorderS (applied as best effort) */
  tooLate: Type.Integer(),
  rejected: Type.Record(Type.String(), Type.Integer()),
  /** the cfghash the node reports running, and whether it is the one the hub publishes for it */
  cfghash: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  configCurrent: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
  // extensions from the node's retained status (null until a node reports them)
  uptimeS: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
  outbox: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  dropped: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  clock: Type.Optional(Type.Union([ClockSync, Type.Null()])),
  /** the latest fault per sensor (a `recovered` one shows the sensor is fine again) */
  faults: Type.Optional(Type.Array(SensorFault)),
  /** fault events received from this node (recoveries not counted) */
  faultCount: Type.Optional(Type.Integer()),
});
export type NodeHealth = Static<typeof NodeHealth>;

/** p50, p99 and the slowest of a window of recent durations, in ms, and how many durations the window holds */
export const LatencyFigures = Type.Object({ p50: Type.Number(), p99: Type.Number(), max: Type.Number(), n: Type.Integer({ minimum: 1 }) });
export type LatencyFigures = Static<typeof LatencyFigures>;

/** GET /api/stores/{store}/live and each SSE `live` message. */
export const LiveSnapshot = Type.Object({
  store: Id(),
  now: Type.String(),
  rules: Type.Object({ warnAtS: Type.Number(), greetWithinS: Type.Number() }),
  open: Type.Array(OpenParty),
  today: Report,
  nodes: Type.Array(NodeHealth),
  /**
   * where history goes (`detail`) and how it is doing: `state` up (InfluxDB answers), down (writes
   * or queries fail; points wait in the spool) or off (no persistent history); `spool`: points waiting
   */
  history: Type.Object({
    enabled: Type.Boolean(),
    detail: Type.String(),
    state: Type.Union([Type.Literal('up'), Type.Literal('down'), Type.Literal('off')]),
    spool: Type.Integer({ minimum: 0 }),
    /** the last failure while down */
    lastError: Type.Optional(Type.String()),
  }),
  /**
   * the hub's trace journal: events made durable, writes that failed (those were not acknowledged),
   * and how long its commits (write and fdatasync) took over the last 1024: what every PUBACK waits for
   */
  journal: Type.Optional(
    Type.Object({
      written: Type.Integer(),
      failed: Type.Integer(),
      lastError: Type.Union([Type.String(), Type.Null()]),
      commitMs: Type.Optional(Type.Union([LatencyFigures, Type.Null()])),
      /**
       * how long the last 4096 publishes from nodes waited in the hub (journal commit, hand-over to
       * the engine) before the broker could send their PUBACK, in ms; null before the first
       */
      ackMs: Type.Optional(Type.Union([LatencyFigures, Type.Null()])),
      /** commits since the start, their mean and their slowest, in ms */
      commits: Type.Optional(Type.Object({ count: Type.Integer(), meanMs: Type.Union([Type.Number(), Type.Null()]), maxMs: Type.Number() })),
    }),
  ),
  /** staff id → name, for those the store file names (`byStaff` is keyed by id) */
  staffNames: Type.Optional(Type.Record(Type.String(), Type.String())),
});
export type LiveSnapshot = Static<typeof LiveSnapshot>;

/**
 * One change to the waiting list, pushed on the live stream when it happens
 * (README "Live stream"): `open` when a party appears or changes (size, level,
 * leaving, breached), `gone` when it leaves the waiting list: greeted, closed
 * (walkout, missed), or withdrawn because a late event re-read it.
 * Waiting time is not pushed: screens count it from `entryTime`.
 */
/** a batch of waiting-list changes as a stream sends it: the live stream's and the floor stream's */
function deltaOf<C extends TSchema>(change: C) {
  return Type.Object({
    store: Id(),
    now: Type.String(),
    seq: Type.Integer({ minimum: 1 }),
    changes: Type.Array(change),
  });
}

export const LiveChange = Type.Union([
  Type.Object({ kind: Type.Literal('open'), party: OpenParty }),
  Type.Object({
    kind: Type.Literal('gone'),
    party: Type.String(),
    /** why it left the waiting list, as far as the live view knows */
    reason: Type.Union([Type.Literal('greeted'), Type.Literal('closed'), Type.Literal('withdrawn')]),
    /** for `greeted` and `closed`: the (provisional) outcome */
    outcome: Type.Optional(Outcome),
    ttgS: Type.Optional(Type.Number({ minimum: 0 })),
  }),
]);
export type LiveChange = Static<typeof LiveChange>;

/** A batch of changes (SSE event `change`); `seq` counts batches per hub run, so a screen can tell it missed one and ask for a snapshot. */
export const LiveDelta = deltaOf(LiveChange);
export type LiveDelta = Static<typeof LiveDelta>;

/**
 * One waiting party as the floor screen shows it (README "Floor view"): no waiting time (the
 * screen counts it from entryTime) and no `leaving`, an inference that is often wrong.
 */
export const FloorParty = Type.Object({
  party: Type.String(),
  entryTime: Type.String(),
  size: Type.Integer(),
  level: PartyLevel,
  /** walked past the steps line without being greeted */
  breached: Type.Boolean(),
});
export type FloorParty = Static<typeof FloorParty>;

/**
 * GET /api/stores/{store}/floor and each `floor` message of the floor stream: what a screen by
 * the counter shows and nothing more (no node health, staff or history: public, no login).
 */
export const FloorSnapshot = Type.Object({
  store: Id(),
  /** the store's name (store.name), else its id */
  name: Type.String(),
  now: Type.String(),
  rules: Type.Object({ warnAtS: Type.Number(), greetWithinS: Type.Number() }),
  open: Type.Array(FloorParty),
  today: Type.Object({
    serviceLevel: Nullable(Type.Number()),
    /** store.serviceLevelTarget */
    target: Type.Number(),
    /** visits greeted today (met + late) */
    greetings: Type.Integer(),
    visits: Type.Integer(),
  }),
});
export type FloorSnapshot = Static<typeof FloorSnapshot>;

/** A floor stream `change`: a LiveChange cut down to the floor's fields. */
export const FloorChange = Type.Union([
  Type.Object({ kind: Type.Literal('open'), party: FloorParty }),
  Type.Object({ kind: Type.Literal('gone'), party: Type.String() }),
]);
export type FloorChange = Static<typeof FloorChange>;

/** SSE `change` on the floor stream; `seq` counts the floor stream's own batches per hub run. */
export const FloorDelta = deltaOf(FloorChange);
export type FloorDelta = Static<typeof FloorDelta>;

/** GET /api/hub: which store this hub serves, for pages that are not told (public). */
export const HubInfo = Type.Object({ store: Id(), name: Type.String() });
export type HubInfo = Static<typeof HubInfo>;
