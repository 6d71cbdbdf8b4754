import { Type, type Static } from '@sinclair/typebox';
import { ID_PATTERN, Id } from '../contract/ids.ts';

// The one schema for a store: rules, staff, nodes with their board, pins, sensors, filters
// and fault checks, and the hub. Types and defaults come from here only (README
// "Configuration"); the loader applies the defaults written below.

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
    maxSkewS: S(86400, 'an event whose time is further than this from the hub clock is rejected (CONTRACT.md "Event envelope")'),
    clockConfirmS: S(
      0,
      'a clock sample more than this below a node\'s current offset estimate counts only once a second one agrees: one event dated ahead cannot shift the offset (0 = the plain minimum) (README "Order, duplicates and clocks")',
    ),
    clockFlagMs: S(2000, 'a node whose clock offset exceeds this is flagged in /live (README "Order, duplicates and clocks")'),
  },
  { additionalProperties: false, default: {} },
);
export type Rules = Static<typeof Rules>;

const HOURS_RANGE = '([01]\\d|2[0-3]):[0-5]\\d-([01]\\d|2[0-4]):[0-5]\\d';
/** one range or several separated by commas ("09:00-12:30, 14:00-18:00"), or closed */
const HOURS_PATTERN = `^(closed|${HOURS_RANGE}(\\s*,\\s*${HOURS_RANGE})*)$`;
const Hours = Type.String({
  pattern: HOURS_PATTERN,
  description: '"HH:MM-HH:MM" store-local, several as "HH:MM-HH:MM, HH:MM-HH:MM", or "closed"',
});
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

/** BCM GPIO number on a Pi; on a Firmata board a digital pin number or an analog pin `A0`…`A7`. */
const Pin = Type.Union(
  [Type.Integer({ minimum: 0, maximum: 63 }), Type.String({ pattern: '^A[0-7]$' })],
  { description: 'BCM GPIO number (driver gpio), Firmata digital pin number or analog pin A0-A7 (driver firmata)' },
);
export type Pin = Static<typeof Pin>;

/** an InfluxDB 1.x retention duration: hours, days or weeks (at least 1h), or INF */
const Duration = (def: string, description: string) =>
  Type.String({ pattern: '^([1-9]\\d*[hdw]|INF)$', default: def, description: `${description} (e.g. 90d, 52w, INF)` });

// timer settings get a maximum: Node fires a timer over 2^31 ms (24.8 days) after 1 ms, with a warning
const Ms = (def: number, description: string) => Type.Integer({ minimum: 0, maximum: 3_600_000, default: def, description });

/**
 * Wiring of one digital input (driver gpio): `activeLow` when the active state pulls the
 * line to ground (a button or reed switch to GND with a pull-up, most break-beam receivers).
 * `pull` is a note for the installer: sysfs GPIO cannot set pull resistors, so the README's
 * wiring guide sets them in /boot/firmware/config.txt (`gpio=17=ip,pu`).
 */
const Wiring = {
  activeLow: Type.Boolean({ default: false, description: 'the input is active when the line is low (gpio)' }),
  pull: Type.Optional(
    Type.Union([Type.Literal('up'), Type.Literal('down'), Type.Literal('none')], {
      description: 'pull resistor the wiring needs; set it in config.txt (sysfs cannot): gpio=<pin>=ip,pu|pd|pn',
    }),
  ),
};

/** ESPHome-style filters, applied in this order: invert, debounce, delayed on/off. */
const Filters = (debounceDefault: number) => ({
  invert: Type.Boolean({ default: false, description: 'swap active and idle (e.g. a normally-closed contact)' }),
  debounceMs: Ms(debounceDefault, 'a new level counts once the input has held it this long'),
  delayedOnMs: Ms(0, 'an active level counts only after it has lasted this long'),
  delayedOffMs: Ms(0, 'an idle level counts only after it has lasted this long'),
});

export const BeamPairSensor = Type.Object(
  {
    id: Id(),
    kind: Type.Literal('beam-pair'),
    /** outer beam (street side) and inner beam (store side): the order they break gives the direction */
    outerPin: Pin,
    innerPin: Pin,
    /** a crossing must complete within this long after the first beam breaks */
    crossingMs: Type.Integer({ minimum: 50, maximum: 60_000, default: 1500 }),
    ...Wiring,
    ...Filters(20),
  },
  { additionalProperties: false },
);
export const DoorSensor = Type.Object(
  { id: Id(), kind: Type.Literal('door'), pin: Pin, ...Wiring, ...Filters(50) },
  { additionalProperties: false },
);
export const PirSensor = Type.Object(
  { id: Id(), kind: Type.Literal('pir'), zone: Id(), pin: Type.Optional(Pin), ...Wiring, ...Filters(50) },
  { additionalProperties: false },
);
/**
 * A distance sensor marking presence in a zone: `hcsr04` ultrasonic (Firmata `Proximity`,
 * controller HCSR04, one pin) or `gp2y0a21yk` analog IR (an analog pin); `digital` is a
 * module with a threshold output, read like a PIR. Distances go through a median of the
 * last `medianOf` readings; presence turns on at or below `onCm` and off above `offCm`.
 */
export const ProximitySensor = Type.Object(
  {
    id: Id(),
    kind: Type.Literal('proximity'),
    zone: Id(),
    model: Type.Union([Type.Literal('hcsr04'), Type.Literal('gp2y0a21yk'), Type.Literal('digital')], { default: 'hcsr04' }),
    pin: Type.Optional(Pin),
    onCm: Type.Number({ minimum: 1, default: 100, description: 'presence on at or below this distance' }),
    offCm: Type.Number({ minimum: 1, default: 120, description: 'presence off above this distance (hysteresis; at least onCm)' }),
    medianOf: Type.Integer({ minimum: 1, maximum: 31, default: 5, description: 'median over this many readings' }),
    ...Wiring,
    ...Filters(50),
  },
  { additionalProperties: false },
);
export const Sensor = Type.Union([BeamPairSensor, DoorSensor, PirSensor, ProximitySensor]);
export type Sensor = Static<typeof Sensor>;

const ButtonAction = Type.Union([Type.Literal('greet'), Type.Literal('staffpass')]);
export const Button = Type.Object(
  {
    id: Id(),
    /** counter: a button by the till; fob: a wearable, usually one output of an RF receiver */
    kind: Type.Union([Type.Literal('counter'), Type.Literal('fob')], { default: 'counter' }),
    /** what a press means: greet, a staff member greeted a customer; staffpass, the next crossing is staff */
    action: Type.Union([Type.Literal('greet'), Type.Literal('staffpass')], { default: 'greet' }),
    /** what holding the button for holdMs means, so one fob does both; none: a hold is a press */
    holdAction: Type.Union([ButtonAction, Type.Literal('none')], { default: 'staffpass' }),
    holdMs: Type.Integer({ minimum: 100, maximum: 60_000, default: 1500, description: 'a press held this long is a hold' }),
    pin: Type.Optional(Pin),
    /** a wearable fob belongs to one staff member */
    staff: Type.Optional(Id()),
    ...Wiring,
    ...Filters(30),
  },
  { additionalProperties: false },
);
export type Button = Static<typeof Button>;

/**
 * Health checks on a node's inputs (each raises greetwatch.fault.v1). Stuck: an entrance
 * input that has not changed for `stuckAfterS` while the node's door opened at least
 * `stuckDoorOpens` times (for a beam pair without a door, while the other beam changed that
 * often). Chatter: more than `chatterPerS` raw edges within a second mutes the input until
 * it has been calm (under the limit) for `calmS`, then `recovered` follows.
 */
export const Faults = Type.Object(
  {
    stuckAfterS: Type.Integer({ minimum: 1, maximum: 604_800, default: 1800 }),
    stuckDoorOpens: Type.Integer({ minimum: 1, default: 20 }),
    chatterPerS: Type.Integer({ minimum: 2, default: 50 }),
    calmS: Type.Integer({ minimum: 1, maximum: 86_400, default: 10 }),
  },
  { additionalProperties: false, default: {} },
);
export type Faults = Static<typeof Faults>;

/** An LED and an optional buzzer the hub drives with `cmd indicate`: warn blinks, late lights and beeps. */
export const Indicator = Type.Object(
  {
    pin: Type.Optional(Pin),
    buzzerPin: Type.Optional(Pin),
    activeLow: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);
export type Indicator = Static<typeof Indicator>;

/**
 * A password as stored in the store file: a scrypt hash in PHC form, written by
 * `greetwatch config hash-password` (`$scrypt$ln=15,r=8,p=1$<salt>$<hash>`, base64).
 * Plain passwords are refused with a message that says so.
 */
export const PasswordHash = Type.String({ pattern: '^\\$scrypt\\$ln=\\d+,r=\\d+,p=\\d+\\$[A-Za-z0-9+/]+={0,2}\\$[A-Za-z0-9+/]+={0,2}$' });

export const NodeLogin = Type.Object(
  {
    /** MQTT username (default: the node id) */
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    passwordHash: PasswordHash,
  },
  { additionalProperties: false },
);

export const Node = Type.Object(
  {
    id: Id(),
    /** sim: simulated inputs (demo, tests); gpio: onoff on a Pi; firmata: johnny-five board */
    driver: Type.Union([Type.Literal('sim'), Type.Literal('gpio'), Type.Literal('firmata')], { default: 'sim' }),
    /** the hardware: a Raspberry Pi (driver gpio) or an Arduino running StandardFirmata (driver firmata) */
    board: Type.Optional(Type.Union([Type.Literal('pi4'), Type.Literal('pi5'), Type.Literal('uno'), Type.Literal('nano')])),
    /** driver gpio: the sysfs gpiochip label to use; default: the Pi's header chip found by label */
    gpioChip: Type.Optional(Type.String({ minLength: 1 })),
    /** driver firmata: serial port of the board (default: the first Arduino-like port found) */
    serialPort: Type.Optional(Type.String({ minLength: 1 })),
    sensors: Type.Array(Sensor, { default: [] }),
    buttons: Type.Array(Button, { default: [] }),
    indicator: Type.Optional(Indicator),
    faults: Faults,
    /** the outbox keeps at most this many unacknowledged events; when full the oldest go (counted as dropped) */
    outboxMax: Type.Integer({ minimum: 1, default: 100_000 }),
    /** the retained status (uptime, outbox depth, clock) is refreshed this often */
    statusEveryS: Type.Integer({ minimum: 1, maximum: 86_400, default: 60 }),
    /** the node's own MQTT login; `greetwatch config node-bootstrap` makes the password and writes its hash here */
    mqtt: Type.Optional(NodeLogin),
  },
  { additionalProperties: false },
);
export type Node = Static<typeof Node>;

export const Staff = Type.Object({ id: Id(), name: Type.Optional(Type.String()) }, { additionalProperties: false });

/** A dashboard login: managers see live compliance and node health, owners also the weekly reports. */
export const User = Type.Object(
  {
    id: Id(),
    name: Type.Optional(Type.String()),
    role: Type.Union([Type.Literal('manager'), Type.Literal('owner')]),
    passwordHash: PasswordHash,
  },
  { additionalProperties: false },
);
export type User = Static<typeof User>;

/** A server certificate and its private key (PEM files), relative to the store file's folder. */
const TlsFiles = {
  cert: Type.String({ minLength: 1, description: "PEM certificate (chain) file, relative to the store file's folder" }),
  key: Type.String({ minLength: 1, description: "PEM private key file (unencrypted, keep it mode 0600), relative to the store file's folder" }),
};

export const Hub = Type.Object(
  {
    mqtt: Type.Object(
      {
        /** where the broker listens: 127.0.0.1 for the demo, 0.0.0.0 (or the hub's LAN address) in a store */
        host: Type.String({ default: '127.0.0.1' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 1883 }),
        /** how nodes reach the broker, e.g. mqtt://192.168.1.10:1883 (node-bootstrap files carry it);
         *  default mqtt://{host}:{port} */
        url: Type.Optional(Type.String({ pattern: '^mqtts?://' })),
        /** the broker also listens with TLS (mqtts://) on tls.port; `greetwatch certs hub` makes the files */
        tls: Type.Optional(
          Type.Object(
            {
              port: Type.Integer({ minimum: 0, maximum: 65535, default: 8883 }),
              ...TlsFiles,
            },
            { additionalProperties: false },
          ),
        ),
        /** whether the plain listener on `port` stays open [true]; false once every node uses mqtts:// (needs tls).
         *  No schema default: a store file without it loads exactly as before */
        plain: Type.Optional(Type.Boolean({ description: 'keep the plain MQTT listener on hub.mqtt.port [true]; false needs hub.mqtt.tls' })),
      },
      { additionalProperties: false, default: {} },
    ),
    http: Type.Object(
      {
        host: Type.String({ default: '127.0.0.1' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
        /** HTTPS instead of HTTP on `port` */
        tls: Type.Optional(Type.Object({ ...TlsFiles }, { additionalProperties: false })),
      },
      { additionalProperties: false, default: {} },
    ),
    influx: Type.Object(
      {
        /** e.g. http://127.0.0.1:8086; unset = managed local influxd when installed, else history off */
        url: Type.Optional(Type.String()),
        database: Type.String({ pattern: '^[A-Za-z0-9_-]+$', default: 'greetwatch' }),
        /** with no url: start a local influxd when one is installed (false = history in memory only) */
        managed: Type.Boolean({ default: true }),
        /** how long InfluxDB keeps raw points and hourly rollups (README "History"); InfluxDB durations */
        retention: Type.Object(
          {
            raw: Duration('90d', 'visits, greetings, sensor events and node health, point by point'),
            rollups: Duration('1826d', 'hourly counts and sums per store and staff: the weekly and long reports'),
          },
          { additionalProperties: false, default: {} },
        ),
        /** points wait on disk while InfluxDB is down or slow; past this the oldest are dropped (counted) */
        spoolMB: Type.Integer({ minimum: 1, default: 256 }),
        /** also keep every accepted sensor event (the trace keeps them anyway; Grafana reads them here) */
        rawEvents: Type.Boolean({ default: true }),
        /** a node health sample (online, clock offset, outbox, dropped, rejects) per node this often */
        healthEveryS: Type.Integer({ minimum: 5, maximum: 86_400, default: 60 }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** traces, managed influxd data; relative to the config file's folder */
    dataDir: Type.String({ default: '.data' }),
    /** recorded traces older than this are deleted (0 = keep them all); replays and recovery read them */
    traceDays: Type.Integer({ minimum: 0, maximum: 36_500, default: 90 }),
    /** bearer tokens machine clients send; empty = API open (demo) */
    tokens: Type.Array(Type.String({ minLength: 16 }), { default: [] }),
  },
  { additionalProperties: false, default: {} },
);

/** what the hub says on `{store}/alerts` (README "Alerts"), and which of those a target gets */
export const ALERT_TYPES = ['party.warn', 'party.late', 'party.escalated', 'node.offline', 'node.online', 'node.fault'] as const;
export type AlertType = (typeof ALERT_TYPES)[number];
const AlertTypes = Type.Array(Type.Union(ALERT_TYPES.map((t) => Type.Literal(t))), {
  default: ['party.late', 'party.escalated', 'node.offline', 'node.fault'],
  description: 'the alert types this target gets',
});
const HttpUrl = Type.String({ pattern: '^https?://', description: 'http:// or https:// URL' });

export const Integrations = Type.Object(
  {
    /** Home Assistant MQTT discovery: a greetwatch device per store with its sensors (README "Home Assistant") */
    homeAssistant: Type.Object(
      {
        enabled: Type.Boolean({ default: false }),
        discoveryPrefix: Type.String({ pattern: '^[A-Za-z0-9_-]+$', default: 'homeassistant' }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** Zigbee2MQTT buttons as greet and staffpass buttons (README "Zigbee2MQTT buttons") */
    zigbee2mqtt: Type.Object(
      {
        /** Zigbee2MQTT's `mqtt.base_topic` */
        baseTopic: Type.String({ pattern: '^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$', default: 'zigbee2mqtt' }),
        /** the hub-side node the buttons' events come from (its traces, /live, counters) */
        node: Type.String({ pattern: ID_PATTERN, default: 'zigbee' }),
        /** Zigbee2MQTT logs in to the hub's broker with this (user default `zigbee2mqtt`); `greetwatch config hash-password` makes the hash */
        mqtt: Type.Optional(NodeLogin),
        /** or the hub reads Zigbee2MQTT on another broker, e.g. mqtt://homeassistant.local:1883 */
        url: Type.Optional(Type.String({ pattern: '^mqtts?://' })),
        username: Type.Optional(Type.String({ minLength: 1 })),
        password: Type.Optional(Type.String({ minLength: 1 })),
        buttons: Type.Array(
          Type.Object(
            {
              /** the device's friendly name in Zigbee2MQTT */
              friendlyName: Type.String({ minLength: 1, maxLength: 128 }),
              /** the button id its events carry */
              id: Id(),
              /** a wearable button belongs to one staff member */
              staff: Type.Optional(Id()),
              /** Zigbee2MQTT `action` value → what it means; others are ignored */
              actions: Type.Record(Type.String({ minLength: 1 }), ButtonAction, { default: { single: 'greet', hold: 'staffpass' } }),
            },
            { additionalProperties: false },
          ),
          { default: [] },
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    /** where alerts go besides the `{store}/alerts` topic (README "Alerts") */
    alerts: Type.Object(
      {
        /** a late party still ungreeted this long after it turned late raises party.escalated (0 = never) */
        escalateAfterS: Type.Number({ minimum: 0, maximum: 86_400, default: 120 }),
        /** POST the alert JSON */
        webhooks: Type.Array(
          Type.Object({ url: HttpUrl, types: AlertTypes, headers: Type.Optional(Type.Record(Type.String(), Type.String())) }, { additionalProperties: false }),
          { default: [] },
        ),
        /** ntfy (self-hosted push to staff phones): the topic URL, e.g. https://ntfy.example.com/shop-floor */
        ntfy: Type.Array(Type.Object({ url: HttpUrl, token: Type.Optional(Type.String({ minLength: 1 })), types: AlertTypes }, { additionalProperties: false }), {
          default: [],
        }),
        /** Home Assistant notify services, e.g. service notify.mobile_app_annas_phone, with a long-lived access token */
        homeAssistant: Type.Array(
          Type.Object(
            { url: HttpUrl, token: Type.String({ minLength: 1 }), service: Type.String({ pattern: '^notify\\.[a-z0-9_]+$' }), types: AlertTypes },
            { additionalProperties: false },
          ),
          { default: [] },
        ),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);
export type Integrations = Static<typeof Integrations>;

export const StoreConfig = Type.Object(
  {
    store: Type.Object(
      {
        id: Id(),
        name: Type.Optional(Type.String()),
        /** IANA zone for opening hours, byHour, byWeekday and weeks (Monday 00:00) */
        timezone: Type.String({ default: 'UTC' }),
        /** the service level the store aims for (README "Weekly report"): days below it are flagged */
        serviceLevelTarget: Type.Number({ minimum: 0, maximum: 1, default: 0.8 }),
        openingHours: Type.Optional(OpeningHours),
      },
      { additionalProperties: false },
    ),
    rules: Rules,
    staff: Type.Array(Staff, { default: [] }),
    nodes: Type.Array(Node, { default: [] }),
    /** dashboard logins (manager and owner views) */
    users: Type.Array(User, { default: [] }),
    hub: Hub,
    integrations: Integrations,
    /** `${name}` in any string value is replaced by these (ESPHome-style), applied by the loader */
    substitutions: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), Type.String())),
  },
  { additionalProperties: false },
);
export type StoreConfig = Static<typeof StoreConfig>;
