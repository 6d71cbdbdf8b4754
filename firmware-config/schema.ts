import { Type, type Static } from '@sinclair/typebox';
import { Id } from '../contract/ids.ts';

// The one schema for stores, nodes, pins, sensors, rules, staff and credentials.
// Types and defaults come from here only (brief: "The config schema is the single
// source of truth"); the loader applies the defaults written below.

const S = (def: number, description: string) => Type.Number({ minimum: 0, default: def, description });

/** CONTRACT.md "Store rules": names fixed, defaults in brackets there. */
export const Rules = Type.Object(
  {
    greetWithinS: S(30, 'the time half of the 30/30 rule'),
    stepsLineZones: Type.Array(Id(), { default: [], description: 'zones whose presence `on` marks the 30-steps line' }),
    minTransitS: S(3, 'a steps-line presence counts for a party only if it entered at least this long before'),
    warnAtS: S(20, 'an ungreeted party raises a warning'),
    groupWindowS: S(3, 'an `in` within this time of the previous customer `in` joins its party'),
    greetLeadS: S(2, 'a greet up to this long before a party entry still counts for it'),
    greetHorizonS: S(45, 'a greet prefers parties that entered within this time'),
    staffPassS: S(10, 'a crossing within this time after a staffpass is a staff crossing'),
    shortAbandonS: S(5, 'a walkout within this time of entry is a short abandon'),
    walkoutWindowS: S(120, 'an `out` can only mark a party that entered within this time'),
    walkoutConfirmS: S(60, 'a marked party still ungreeted this long after the mark is a walkout'),
    expireS: S(600, 'a party still ungreeted after this long closes as missed'),
    reorderS: S(120, 'events may arrive up to this late; results do not depend on order within it'),
    clockFlagMs: S(2000, 'a node whose clock offset exceeds this is flagged in /live (issue 3)'),
  },
  { additionalProperties: false, default: {} },
);
export type Rules = Static<typeof Rules>;

const HOURS_PATTERN = '^(closed|([01]\\d|2[0-3]):[0-5]\\d-([01]\\d|2[0-4]):[0-5]\\d)$';
const Hours = Type.String({ pattern: HOURS_PATTERN, description: '"HH:MM-HH:MM" store-local, or "closed"' });
export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export const OpeningHours = Type.Object(
  {
    mon: Type.Optional(Hours),
    tue: Type.Optional(Hours),
    wed: Type.Optional(Hours),
    thu: Type.Optional(Hours),
    fri: Type.Optional(Hours),
    sat: Type.Optional(Hours),
    sun: Type.Optional(Hours),
  },
  { additionalProperties: false, description: 'missing day = closed; no openingHours at all = always open' },
);
export type OpeningHours = Static<typeof OpeningHours>;

const Pin = Type.Integer({ minimum: 0, maximum: 63, description: 'BCM GPIO number (or Firmata pin)' });

export const BeamPairSensor = Type.Object(
  {
    id: Id(),
    kind: Type.Literal('beam-pair'),
    /** outer beam (street side) and inner beam (store side): the order they break gives the direction */
    outerPin: Pin,
    innerPin: Pin,
    /** a crossing must complete within this long after the first beam breaks */
    crossingMs: Type.Integer({ minimum: 50, default: 1500 }),
    debounceMs: Type.Integer({ minimum: 0, default: 20 }),
  },
  { additionalProperties: false },
);
export const DoorSensor = Type.Object(
  { id: Id(), kind: Type.Literal('door'), pin: Pin, debounceMs: Type.Integer({ minimum: 0, default: 50 }) },
  { additionalProperties: false },
);
export const PresenceSensor = Type.Object(
  {
    id: Id(),
    kind: Type.Union([Type.Literal('pir'), Type.Literal('proximity')]),
    zone: Id(),
    pin: Type.Optional(Pin),
    /** proximity: presence `on` below this distance */
    thresholdCm: Type.Optional(Type.Number({ minimum: 1 })),
    debounceMs: Type.Integer({ minimum: 0, default: 50 }),
  },
  { additionalProperties: false },
);
export const Sensor = Type.Union([BeamPairSensor, DoorSensor, PresenceSensor]);
export type Sensor = Static<typeof Sensor>;

export const Button = Type.Object(
  {
    id: Id(),
    kind: Type.Union([Type.Literal('counter'), Type.Literal('fob')], { default: 'counter' }),
    /** greet: a staff member greeted a customer; staffpass: the next crossing is staff */
    action: Type.Union([Type.Literal('greet'), Type.Literal('staffpass')], { default: 'greet' }),
    pin: Type.Optional(Pin),
    /** a wearable fob belongs to one staff member */
    staff: Type.Optional(Id()),
    debounceMs: Type.Integer({ minimum: 0, default: 30 }),
  },
  { additionalProperties: false },
);
export type Button = Static<typeof Button>;

export const Node = Type.Object(
  {
    id: Id(),
    /** sim: simulated inputs (demo, tests); gpio: onoff on a Pi; firmata: johnny-five board */
    driver: Type.Union([Type.Literal('sim'), Type.Literal('gpio'), Type.Literal('firmata')], { default: 'sim' }),
    sensors: Type.Array(Sensor, { default: [] }),
    buttons: Type.Array(Button, { default: [] }),
    /** an LED or buzzer the hub drives with `cmd indicate` */
    indicator: Type.Optional(Type.Object({ pin: Type.Optional(Pin) }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
export type Node = Static<typeof Node>;

export const Staff = Type.Object({ id: Id(), name: Type.Optional(Type.String()) }, { additionalProperties: false });

export const Hub = Type.Object(
  {
    mqtt: Type.Object(
      { host: Type.String({ default: '127.0.0.1' }), port: Type.Integer({ minimum: 0, maximum: 65535, default: 1883 }) },
      { additionalProperties: false, default: {} },
    ),
    http: Type.Object(
      { host: Type.String({ default: '127.0.0.1' }), port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }) },
      { additionalProperties: false, default: {} },
    ),
    influx: Type.Object(
      {
        /** e.g. http://127.0.0.1:8086; unset = managed local influxd when installed, else history off */
        url: Type.Optional(Type.String()),
        database: Type.String({ pattern: '^[A-Za-z0-9_-]+$', default: 'greetwatch' }),
        /** with no url: start a local influxd when one is installed (false = history in memory only) */
        managed: Type.Boolean({ default: true }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** traces, managed influxd data; relative to the config file's folder */
    dataDir: Type.String({ default: '.data' }),
    /** bearer tokens machine clients send; empty = API open (demo) */
    tokens: Type.Array(Type.String({ minLength: 16 }), { default: [] }),
  },
  { additionalProperties: false, default: {} },
);

export const StoreConfig = Type.Object(
  {
    store: Type.Object(
      {
        id: Id(),
        name: Type.Optional(Type.String()),
        /** IANA zone for opening hours, byHour, byWeekday and weeks (Monday 00:00) */
        timezone: Type.String({ default: 'UTC' }),
        openingHours: Type.Optional(OpeningHours),
      },
      { additionalProperties: false },
    ),
    rules: Rules,
    staff: Type.Array(Staff, { default: [] }),
    nodes: Type.Array(Node, { default: [] }),
    hub: Hub,
  },
  { additionalProperties: false },
);
export type StoreConfig = Static<typeof StoreConfig>;
