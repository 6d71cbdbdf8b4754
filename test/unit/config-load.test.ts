import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCodes, GwError } from '../../contract/errors.ts';
import {
  ConfigError,
  didYouMean,
  formatIssue,
  levenshtein,
  loadConfig,
  parseConfig,
  resolveConfig,
  type ConfigIssue,
} from '../../firmware-config/load.ts';
import { Rules } from '../../firmware-config/schema.ts';
import { openingHoursCheck, parseDayHours } from '../../hub/engine/opening-hours.ts';
import { TimeZone } from '../../hub/engine/tz.ts';

const EXAMPLES = join(import.meta.dirname, '../../firmware-config/examples');
const FIX = join(import.meta.dirname, '../fixtures/config');
const tmp = mkdtempSync(join(tmpdir(), 'gw-config-load-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// Line numbers below refer to this text; keep it stable.
const BASE = `store:
  id: s1
  timezone: Europe/Berlin
rules:
  stepsLineZones: [floor-mid]
staff:
  - { id: anna }
  - { id: ben }
nodes:
  - id: door-1
    driver: gpio
    sensors:
      - { id: front-beam, kind: beam-pair, outerPin: 17, innerPin: 27 }
    buttons:
      - { id: door-pass, kind: counter, action: staffpass, pin: 23 }
  - id: counter-1
    sensors:
      - { id: mid-pir, kind: pir, zone: floor-mid }
    buttons:
      - { id: fob-anna, kind: fob, staff: anna }
`;

/** BASE with one line (1-based) replaced. */
const withLine = (line: number, text: string) => {
  const lines = BASE.split('\n');
  lines[line - 1] = text;
  return lines.join('\n');
};

function fail(text: string, file = 'store.yaml'): ConfigError {
  try {
    parseConfig(text, file);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected the config to be rejected');
}

function failFile(file: string): ConfigError {
  try {
    loadConfig(file);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`expected ${file} to be rejected`);
}

const errorsOf = (text: string): ConfigIssue[] => fail(text).issues.filter((i) => i.severity === 'error');
const short = (i: ConfigIssue) => `${i.line}:${i.col} ${i.path}: ${i.message}`;
/** formatted lines with the fixture folder left out, so they read like `pin-twice.yaml:9:31 …` */
const rel = (lines: string) => lines.split(`${FIX}/`).join('');

describe('parseConfig: valid configs', () => {
  it('accepts the base config and fills every contract default', () => {
    const cfg = parseConfig(BASE, 'store.yaml');
    // CONTRACT.md "Store rules": names fixed, these defaults
    expect(cfg.rules).toMatchObject({
      greetWithinS: 30,
      stepsLineZones: ['floor-mid'],
      minTransitS: 3,
      warnAtS: 20,
      groupWindowS: 3,
      greetLeadS: 2,
      greetHorizonS: 45,
      staffPassS: 10,
      shortAbandonS: 5,
      walkoutWindowS: 120,
      walkoutConfirmS: 60,
      expireS: 600,
      reorderS: 120,
      clockFlagMs: 2000,
    });
    expect(Object.keys(cfg.rules).sort()).toEqual(Object.keys(Rules.properties).sort());
    expect(cfg.nodes[1]!.driver).toBe('sim');
    expect(cfg.nodes[0]!.sensors[0]).toMatchObject({ crossingMs: 1500, debounceMs: 20 });
    expect(cfg.nodes[1]!.sensors[0]).toMatchObject({ debounceMs: 50 });
    expect(cfg.nodes[1]!.buttons[0]).toMatchObject({ action: 'greet', debounceMs: 30 });
    expect(cfg.users).toEqual([]);
    expect(cfg.hub).toEqual({
      mqtt: { host: '127.0.0.1', port: 1883 },
      http: { host: '127.0.0.1', port: 8080 },
      influx: { database: 'greetwatch', managed: true, retention: { raw: '90d', rollups: '1826d' }, spoolMB: 256, rawEvents: true, healthEveryS: 60 },
      dataDir: '.data',
      traceDays: 90,
      tokens: [],
    });
  });

  it('fills rules when the section is missing and keeps the defaults independent per load', () => {
    const a = parseConfig('store: { id: a }\n', 'a.yaml');
    const b = parseConfig('store: { id: b }\n', 'b.yaml');
    expect(a.rules.greetWithinS).toBe(30);
    expect(a.store.timezone).toBe('UTC');
    expect(a.nodes).toEqual([]);
    a.rules.stepsLineZones.push('x');
    expect(b.rules.stepsLineZones).toEqual([]);
  });

  it('reads JSON as well', () => {
    const cfg = parseConfig('{"store": {"id": "j"}, "rules": {"greetWithinS": 40}}', 'store.json');
    expect(cfg.rules.greetWithinS).toBe(40);
    expect(cfg.rules.reorderS).toBe(120);
  });

  it('accepts several opening-hours ranges a day, and single ranges as before', () => {
    const text = BASE.replace(
      'timezone: Europe/Berlin',
      'timezone: Europe/Berlin\n  openingHours: { mon: "09:00-12:30, 14:00-18:00", tue: "09:00-12:30,13:00-24:00", wed: "10:00-24:00", sun: closed }',
    );
    expect(parseConfig(text, 'store.yaml').store.openingHours).toEqual({
      mon: '09:00-12:30, 14:00-18:00',
      tue: '09:00-12:30,13:00-24:00',
      wed: '10:00-24:00',
      sun: 'closed',
    });
  });
});

describe('examples', () => {
  const top = readdirSync(EXAMPLES).filter((f) => /\.(ya?ml|json)$/.test(f));
  const all = [...top, 'chain/berlin-mitte.yaml', 'chain/hamburg.yaml'];

  it.each(all)('example %s validates without warnings', (f) => {
    const warnings: ConfigIssue[] = [];
    const cfg = loadConfig(join(EXAMPLES, f), { onWarning: (w) => warnings.push(w) });
    expect(cfg.nodes.length).toBeGreaterThan(0);
    expect(warnings).toEqual([]);
  });

  it('lists exactly the examples the README names', () => {
    expect(top.sort()).toEqual(['boutique-pi4.yaml', 'demo-store.yaml', 'large-store-pi5.yaml', 'reference-kits.yaml']);
    expect(readdirSync(join(EXAMPLES, 'chain')).sort()).toEqual([
      'berlin-mitte.yaml',
      'hamburg.yaml',
      'secrets.example.yaml',
      'secrets.yaml',
      'store-template.yaml',
    ]);
  });

  it('demo-store is what npm start simulates', () => {
    const demo = loadConfig(join(EXAMPLES, 'demo-store.yaml'));
    expect(demo.store.id).toBe('demo');
    expect(demo.nodes.map((n) => [n.id, n.driver])).toEqual([
      ['door-1', 'sim'],
      ['counter-1', 'sim'],
    ]);
    expect(demo.nodes.flatMap((n) => [...n.sensors, ...n.buttons].map((d) => d.id))).toEqual([
      'front-beam',
      'front-door',
      'door-pass',
      'mid-pir',
      'counter-btn',
      'fob-anna',
      'fob-ben',
    ]);
    expect(demo.hub.mqtt).toEqual({ host: '127.0.0.1', port: 1883 });
    expect(demo.hub.http).toEqual({ host: '127.0.0.1', port: 8080 });
  });

  it('boutique-pi4: a door and a counter Pi 4 on the store network, two users, node logins', () => {
    const b = loadConfig(join(EXAMPLES, 'boutique-pi4.yaml'));
    expect(b.nodes.map((n) => [n.id, n.driver, n.board])).toEqual([
      ['door', 'gpio', 'pi4'],
      ['counter', 'gpio', 'pi4'],
    ]);
    const [door, counter] = b.nodes as [(typeof b.nodes)[0], (typeof b.nodes)[0]];
    expect(door.sensors.map((s) => s.kind)).toEqual(['beam-pair', 'door']);
    expect(door.sensors.every((s) => s.activeLow && s.pull === 'up')).toBe(true);
    expect(door.indicator?.pin).toBe(24);
    expect(counter.buttons.map((x) => [x.kind, x.staff])).toEqual([
      ['counter', undefined],
      ['fob', 'lena'],
      ['fob', 'marco'],
    ]);
    expect(b.staff.map((s) => s.id)).toEqual(['lena', 'marco']);
    expect(b.users.map((u) => u.role).sort()).toEqual(['manager', 'owner']);
    expect(b.nodes.every((n) => n.mqtt?.passwordHash.startsWith('$scrypt$ln=15,r=8,p=1$'))).toBe(true);
    expect(b.hub.mqtt.host).toBe('0.0.0.0');
    expect(b.hub.mqtt.url).toBe('mqtt://192.168.1.20:1883');
    expect(b.store.openingHours?.mon).toBe('10:00-13:00, 14:00-18:30');
  });

  it('large-store-pi5: Pi 5 door and counter, an Uno on firmata with an HC-SR04 on the steps line', () => {
    const l = loadConfig(join(EXAMPLES, 'large-store-pi5.yaml'));
    expect(l.nodes.map((n) => [n.id, n.driver, n.board])).toEqual([
      ['door', 'gpio', 'pi5'],
      ['counter', 'gpio', 'pi5'],
      ['floor', 'firmata', 'uno'],
    ]);
    expect(l.nodes[2]!.sensors[0]).toMatchObject({ kind: 'proximity', model: 'hcsr04', zone: 'steps-line' });
    expect(l.rules.stepsLineZones).toEqual(['steps-line']);
  });

  it('chain: two stores from one template, with substitutions and secrets', () => {
    const berlin = resolveConfig(join(EXAMPLES, 'chain/berlin-mitte.yaml'));
    const hamburg = loadConfig(join(EXAMPLES, 'chain/hamburg.yaml'));
    expect([berlin.config.store.id, hamburg.store.id]).toEqual(['berlin-mitte', 'hamburg']);
    expect(berlin.config.hub.mqtt.url).toBe('mqtt://192.168.10.2:1883');
    expect(hamburg.hub.mqtt.url).toBe('mqtt://192.168.20.2:1883');
    expect(hamburg.store.openingHours?.mon).toBe('09:30-13:00, 14:00-19:00');
    expect(berlin.config.nodes.map((n) => n.id)).toEqual(hamburg.nodes.map((n) => n.id));
    expect(hamburg.nodes[1]!.buttons.map((b) => b.staff)).toEqual([undefined, 'greta', 'malte']);
    // the substitutions are applied, not kept
    expect(berlin.config).not.toHaveProperty('substitutions');
    // the hashes came from secrets.yaml, through substitutions
    expect(berlin.isSecret(['nodes', 0, 'mqtt', 'passwordHash'])).toBe(true);
    expect(berlin.origin(['nodes', 0, 'mqtt', 'passwordHash'])?.secret).toEqual({
      name: 'berlin_door_hash',
      file: join(EXAMPLES, 'chain/secrets.yaml'),
    });
    expect(berlin.isSecret(['store', 'id'])).toBe(false);
    // the template's lines, not the store file's
    expect(berlin.origin(['nodes', 0, 'id'])?.value).toEqual({ file: join(EXAMPLES, 'chain/store-template.yaml'), line: 29, col: 9 });
  });
});

describe('broken fixtures: one per documented error, exact message and position', () => {
  const cases: Array<[file: string, code: string, lines: string[]]> = [
    [
      'pin-twice.yaml',
      ErrorCodes.CONFIG_INVALID,
      [
        'pin-twice.yaml:9:31 nodes[0].buttons[0].pin: pin 27 is already used by nodes[0].sensors[0].innerPin (7:68) on this node',
        'pin-twice.yaml:10:38 nodes[0].indicator.buzzerPin: pin 17 is already used by nodes[0].sensors[0].outerPin (7:54) on this node',
        "pin-twice.yaml:15:80 nodes[1].sensors[1].pin: pin 'A0' is already used by nodes[1].sensors[0].pin (14:79) on this node",
      ],
    ],
    [
      'board-pins.yaml',
      ErrorCodes.CONFIG_INVALID,
      [
        'board-pins.yaml:8:44 nodes[0].sensors[0].pin: pin 28 is not a header GPIO on a pi4 (2-27)',
        "board-pins.yaml:9:43 nodes[0].sensors[1].pin: pin 'A1' is not on a pi4: a Raspberry Pi has no analog inputs; use a BCM GPIO number",
        'board-pins.yaml:14:24 nodes[1].buttons[0].pin: pin 0 is RX, the serial link to the host on an uno: Firmata needs it; use 2-13',
        'board-pins.yaml:15:24 nodes[1].buttons[1].pin: pin 1 is TX, the serial link to the host on an uno: Firmata needs it; use 2-13',
        'board-pins.yaml:16:25 nodes[1].buttons[2].pin: pin 14 is not a digital pin on an uno (2-13; analog pins are A0-A5)',
        "board-pins.yaml:18:79 nodes[1].sensors[0].pin: pin 'A6' is not on an uno (analog pins A0-A5)",
        'board-pins.yaml:25:38 nodes[2].indicator.buzzerPin: pin 20 is not a digital pin on a nano (2-13; analog pins are A0-A7)',
      ],
    ],
    [
      'pin-kind.yaml',
      ErrorCodes.CONFIG_INVALID,
      [
        "pin-kind.yaml:8:79 nodes[0].sensors[0].pin: a 'gp2y0a21yk' distance sensor gives an analog voltage: it needs an analog pin (A0-A5 on an uno), got digital pin 7",
        "pin-kind.yaml:9:44 nodes[0].sensors[1].pin: a door sensor needs a digital pin, got analog pin 'A0'",
        "pin-kind.yaml:11:27 nodes[0].buttons[0].pin: a counter button needs a digital pin, got analog pin 'A1'",
        "pin-kind.yaml:12:23 nodes[0].indicator.pin: an indicator LED needs a digital pin, got analog pin 'A2'",
      ],
    ],
    [
      'board-driver.yaml',
      ErrorCodes.CONFIG_INVALID,
      [
        "board-driver.yaml:6:12 nodes[0].board: board 'pi4' is a Raspberry Pi: it needs driver 'gpio', not 'firmata' (nodes[0].driver, 5:13)",
        "board-driver.yaml:9:12 nodes[1].board: board 'nano' is an Arduino: it needs driver 'firmata', not 'gpio' (nodes[1].driver, 8:13)",
      ],
    ],
    [
      'steps-zone.yaml',
      ErrorCodes.CONFIG_INVALID,
      ["steps-zone.yaml:3:31 rules.stepsLineZones[1]: no presence sensor has zone 'floor-mdi'; did you mean 'floor-mid'?"],
    ],
    [
      'staff-unknown.yaml',
      ErrorCodes.CONFIG_INVALID,
      [
        "staff-unknown.yaml:7:43 nodes[0].buttons[0].staff: staff 'anne' is not listed under staff; did you mean 'anna'?",
        "staff-unknown.yaml:8:43 nodes[0].buttons[1].staff: staff 'carl' is not listed under staff (staff: anna)",
      ],
    ],
    [
      'warn-at.yaml',
      ErrorCodes.CONFIG_INVALID,
      ['warn-at.yaml:5:12 rules.warnAtS: warnAtS (20) is not below greetWithinS (20, at 4:17): the warning would come at or after the deadline'],
    ],
    [
      'warn-at-default.yaml',
      ErrorCodes.CONFIG_INVALID,
      [
        'warn-at-default.yaml:4:17 rules.greetWithinS: greetWithinS (15) is not above warnAtS (20, the default): the warning would come at or after the deadline; set warnAtS below 15',
      ],
    ],
    [
      'opening-hours.yaml',
      ErrorCodes.CONFIG_INVALID,
      [
        'opening-hours.yaml:6:11 store.openingHours.tue: closing time 09:00 is not after opening time 18:00 (hours past midnight are not supported; use 24:00)',
        "opening-hours.yaml:7:24 store.openingHours.wed: '12:00-18:00' overlaps '09:00-12:30': the ranges of a day must not overlap",
        "opening-hours.yaml:8:24 store.openingHours.thu: '12:30-18:00' touches '09:00-12:30': write them as one range '09:00-18:00'",
        "opening-hours.yaml:9:24 store.openingHours.fri: '09:00-12:00' starts before '14:00-18:00': list the ranges of a day in order",
        'opening-hours.yaml:10:11 store.openingHours.sat: closing time 24:30 is past midnight; the latest closing time is 24:00',
      ],
    ],
    [
      'timezone.yaml',
      ErrorCodes.CONFIG_INVALID,
      ["timezone.yaml:3:13 store.timezone: 'Europe/Berln' is not a valid IANA time zone; did you mean 'Europe/Berlin'?"],
    ],
    [
      'duplicate-ids.yaml',
      ErrorCodes.CONFIG_INVALID,
      [
        "duplicate-ids.yaml:4:11 staff[1].id: duplicate staff id 'anna' (first at staff[0].id, 3:11)",
        "duplicate-ids.yaml:8:11 users[1].id: duplicate user id 'anna' (first at users[0].id, 7:11)",
        "duplicate-ids.yaml:13:9 nodes[1].id: duplicate node id 'door-1' (first at nodes[0].id, 10:9)",
        "duplicate-ids.yaml:15:15 nodes[1].buttons[0].id: duplicate sensor/button id 'front-beam' (first at nodes[0].sensors[0].id, 12:15)",
      ],
    ],
    [
      'plain-password.yaml',
      ErrorCodes.CONFIG_INVALID,
      [
        'plain-password.yaml:5:5 users[0].password: plain passwords are not stored in the store file: run `greetwatch config hash-password` and put the result in passwordHash',
        'plain-password.yaml:10:7 nodes[0].mqtt.password: plain passwords are not stored in the store file: run `greetwatch config hash-password` and put the result in passwordHash',
      ],
    ],
    [
      'bad-hash.yaml',
      ErrorCodes.CONFIG_INVALID,
      [
        'bad-hash.yaml:3:46 users[0].passwordHash: not a valid scrypt PHC string (not in the form $scrypt$ln=<n>,r=<r>,p=<p>$<salt>$<hash>): run `greetwatch config hash-password` and put the result in passwordHash',
        'bad-hash.yaml:4:43 users[1].passwordHash: not a valid scrypt PHC string (ln=30 is outside 10-20): run `greetwatch config hash-password` and put the result in passwordHash',
        'bad-hash.yaml:7:27 nodes[0].mqtt.passwordHash: not a valid scrypt PHC string (the salt is shorter than 8 bytes): run `greetwatch config hash-password` and put the result in passwordHash',
      ],
    ],
    ['short-token.yaml', ErrorCodes.CONFIG_INVALID, ['short-token.yaml:3:12 hub.tokens[0]: must be at least 16 characters long']],
    [
      'typos.yaml',
      ErrorCodes.CONFIG_INVALID,
      [
        "typos.yaml:4:3 rules.greetWithinSec: unknown key 'greetWithinSec'; did you mean 'greetWithinS'?",
        "typos.yaml:6:23 users[0].role: 'manger' is not one of 'manager', 'owner'; did you mean 'manager'?",
        "typos.yaml:9:13 nodes[0].driver: 'gpoi' is not one of 'sim', 'gpio', 'firmata'; did you mean 'gpio'?",
        "typos.yaml:10:12 nodes[0].board: 'pi6' is not one of 'pi4', 'pi5', 'uno', 'nano'; did you mean 'pi4'?",
        "typos.yaml:12:33 nodes[0].sensors[0].kind: 'beem-pair' is not one of 'beam-pair', 'door', 'pir', 'proximity'; did you mean 'beam-pair'?",
      ],
    ],
    ['syntax.yaml', ErrorCodes.CONFIG_PARSE, ['syntax.yaml:3:3: invalid YAML: Map keys must be unique']],
    ['unknown-tag.yaml', ErrorCodes.CONFIG_PARSE, ["unknown-tag.yaml:3:46 users[0].passwordHash: unknown tag '!secrets'; did you mean '!secret'?"]],
    [
      'unknown-substitution.yaml',
      ErrorCodes.CONFIG_PARSE,
      [
        "unknown-substitution.yaml:5:7 store.id: unknown substitution '${stoer_id}'; did you mean 'store_id'?",
        "unknown-substitution.yaml:6:31 store.name: unknown substitution '${nowhere}' (substitutions: store_id, hub_ip)",
      ],
    ],
    [
      'include-error/store.yaml',
      ErrorCodes.CONFIG_INVALID,
      [
        "include-error/buttons/counter.yaml:4:8 nodes[0].buttons[0].staff: staff 'anne' is not listed under staff; did you mean 'anna'?",
        'include-error/buttons/counter.yaml:5:6 nodes[0].buttons[0].pin: pin 17 is already used by nodes[0].sensors[0].outerPin (include-error/nodes.yaml:4:52) on this node',
      ],
    ],
    [
      'include-syntax/store.yaml',
      ErrorCodes.CONFIG_PARSE,
      ['include-syntax/nodes.yaml:4:1: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]'],
    ],
    [
      'include-missing/store.yaml',
      ErrorCodes.CONFIG_PARSE,
      ["include-missing/store.yaml:2:8 nodes: !include 'nodes/door.yaml': cannot read include-missing/nodes/door.yaml (no such file)"],
    ],
    [
      'include-cycle/a.yaml',
      ErrorCodes.CONFIG_PARSE,
      [
        "include-cycle/c.yaml:1:3 nodes[0].buttons[0]: !include 'b.yaml' makes a cycle: include-cycle/b.yaml -> include-cycle/c.yaml -> include-cycle/b.yaml",
      ],
    ],
    [
      'secret-missing/store.yaml',
      ErrorCodes.CONFIG_PARSE,
      [
        "secret-missing/store.yaml:3:46 users[0].passwordHash: !secret 'ana_hash' is not in secret-missing/secrets.yaml; did you mean 'anna_hash'?",
        "secret-missing/store.yaml:4:43 users[1].passwordHash: !secret 'carl_hash' is not in secret-missing/secrets.yaml (it has: anna_hash, ben_hash)",
      ],
    ],
    [
      'secret-no-file/store.yaml',
      ErrorCodes.CONFIG_PARSE,
      ["secret-no-file/store.yaml:3:46 users[0].passwordHash: !secret 'anna_hash': cannot read secret-no-file/secrets.yaml (no such file)"],
    ],
    [
      'secret-masked/store.yaml',
      ErrorCodes.CONFIG_INVALID,
      [
        "secret-masked/store.yaml:2:14 store.id: '***' is not a valid id (lowercase letters, digits and '-', starting with a letter or digit, at most 32 characters)",
        'secret-masked/store.yaml:4:12 hub.tokens[0]: must be at least 16 characters long',
      ],
    ],
    [
      'merge/not-a-mapping.yaml',
      ErrorCodes.CONFIG_PARSE,
      ["merge/not-a-mapping.yaml:2:26: '<<' merges a mapping (`<<: !include base.yaml`), got a list"],
    ],
  ];

  it.each(cases)('%s', (file, code, lines) => {
    const err = failFile(join(FIX, file));
    expect(err.code).toBe(code);
    expect(rel(err.message).split('\n')).toEqual(lines);
    // the message is the issues, one per line, in the documented form
    expect(err.issues.map(formatIssue).join('\n')).toBe(err.message);
  });

  it('every fixture of the folder is covered', () => {
    const tops = readdirSync(FIX, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.yaml'))
      .filter((f) => !/(^|\/)(secrets|nodes|staff|base|list|b|c)\.yaml$/.test(f) && !f.includes('buttons/'));
    expect(tops.sort()).toEqual([...cases.map(([f]) => f), 'board-pins-warnings.yaml', 'merge/store.yaml'].sort());
  });

  it('pins a Pi has but uses for something else are warnings only', () => {
    const warnings: ConfigIssue[] = [];
    loadConfig(join(FIX, 'board-pins-warnings.yaml'), { onWarning: (w) => warnings.push(w) });
    expect(warnings.map((w) => rel(formatIssue(w)))).toEqual([
      "board-pins-warnings.yaml:8:24 nodes[0].buttons[0].pin: warning: pin 0 is ID_SD, the HAT ID EEPROM's data line on a pi5: it works only while no HAT uses it",
      "board-pins-warnings.yaml:9:24 nodes[0].buttons[1].pin: warning: pin 1 is ID_SC, the HAT ID EEPROM's clock line on a pi5: it works only while no HAT uses it",
      'board-pins-warnings.yaml:10:25 nodes[0].buttons[2].pin: warning: pin 14 is TXD, the serial UART on a pi5: it works only with the serial console and UART turned off',
      'board-pins-warnings.yaml:11:25 nodes[0].buttons[3].pin: warning: pin 15 is RXD, the serial UART on a pi5: it works only with the serial console and UART turned off',
    ]);
  });
});

describe('positions: file:line:col', () => {
  it('formatIssue writes file:line:col path: message, and leaves out what is not there', () => {
    const i: ConfigIssue = { file: 'a.yaml', line: 3, col: 7, path: 'store.id', message: 'm', severity: 'error' };
    expect(formatIssue(i)).toBe('a.yaml:3:7 store.id: m');
    expect(formatIssue({ ...i, severity: 'warning' })).toBe('a.yaml:3:7 store.id: warning: m');
    expect(formatIssue({ ...i, path: '' })).toBe('a.yaml:3:7: m');
    expect(formatIssue({ ...i, line: 0, col: 0, path: '' })).toBe('a.yaml: m');
  });

  it('suggests the rule key for a misspelt one, at its line and column', () => {
    const err = fail(withLine(5, '  greetWithinSec: 30'));
    expect(err.code).toBe(ErrorCodes.CONFIG_INVALID);
    expect(err.code).toBe('GW_ERR_CONFIG_INVALID');
    expect(err).toBeInstanceOf(GwError);
    expect(err.message).toBe("store.yaml:5:3 rules.greetWithinSec: unknown key 'greetWithinSec'; did you mean 'greetWithinS'?");
    expect(err.issues).toEqual([
      {
        file: 'store.yaml',
        line: 5,
        col: 3,
        path: 'rules.greetWithinSec',
        message: "unknown key 'greetWithinSec'; did you mean 'greetWithinS'?",
        severity: 'error',
      },
    ]);
  });
});

describe('parseConfig: schema errors', () => {
  it('lists the valid keys when nothing is close', () => {
    const [issue] = errorsOf(withLine(5, '  zzzzzz: 1'));
    expect(issue!.message).toMatch(/^unknown key 'zzzzzz' \(valid keys: greetWithinS, stepsLineZones, /);
  });

  it('suggests the sensor kind for a misspelt one', () => {
    const err = fail(withLine(13, '      - { id: front-beam, kind: beem-pair, outerPin: 17, innerPin: 27 }'));
    expect(err.message).toBe(
      "store.yaml:13:33 nodes[0].sensors[0].kind: 'beem-pair' is not one of 'beam-pair', 'door', 'pir', 'proximity'; did you mean 'beam-pair'?",
    );
  });

  it('suggests enum values for buttons, drivers and boards', () => {
    const issues = errorsOf(
      withLine(11, '    driver: gpoi\n    board: pi44').replace('kind: counter, action: staffpass', 'kind: countr, action: staffpas'),
    );
    expect(issues.map(short)).toEqual([
      "11:13 nodes[0].driver: 'gpoi' is not one of 'sim', 'gpio', 'firmata'; did you mean 'gpio'?",
      "12:12 nodes[0].board: 'pi44' is not one of 'pi4', 'pi5', 'uno', 'nano'; did you mean 'pi4'?",
      "16:32 nodes[0].buttons[0].kind: 'countr' is not one of 'counter', 'fob'; did you mean 'counter'?",
      "16:48 nodes[0].buttons[0].action: 'staffpas' is not one of 'greet', 'staffpass'; did you mean 'staffpass'?",
    ]);
  });

  it('reports a missing required key at the mapping that lacks it', () => {
    const issues = errorsOf(withLine(13, '      - { id: front-beam, kind: beam-pair, outerPin: 17 }'));
    expect(issues.map(short)).toEqual(["13:9 nodes[0].sensors[0].innerPin: required key 'innerPin' is missing"]);
  });

  it('reports bad values: types, ranges, id and hours patterns', () => {
    const text = BASE.replace('id: s1', 'id: S1')
      .replace('stepsLineZones: [floor-mid]', 'stepsLineZones: [floor-mid]\n  greetWithinS: soon')
      .replace('outerPin: 17', 'outerPin: 99')
      .replace('timezone: Europe/Berlin', 'timezone: Europe/Berlin\n  openingHours: { mon: "9-5" }');
    expect(errorsOf(text).map(short)).toEqual([
      "2:7 store.id: 'S1' is not a valid id (lowercase letters, digits and '-', starting with a letter or digit, at most 32 characters)",
      `4:24 store.openingHours.mon: '9-5' is not valid: expected "HH:MM-HH:MM" store-local, several as "HH:MM-HH:MM, HH:MM-HH:MM", or "closed"`,
      "7:17 rules.greetWithinS: expected a number, got string 'soon'",
      '15:54 nodes[0].sensors[0].outerPin: must be at most 63, got 99',
    ]);
  });

  it('reports a wrong shape without crashing the meaning checks', () => {
    const issues = errorsOf('store: { id: s1 }\nnodes:\n  - 5\n  - { id: n1, sensors: { a: 1 } }\nstaff: nobody\n');
    expect(issues.map(short)).toEqual([
      '3:5 nodes[0]: expected a mapping, got number 5',
      '4:24 nodes[1].sensors: expected a list, got a mapping',
      "5:8 staff: expected a list, got string 'nobody'",
    ]);
  });

  it('reports an empty file', () => {
    const err = fail('');
    expect(err.code).toBe(ErrorCodes.CONFIG_INVALID);
    expect(err.message).toBe('store.yaml:1:1: the file is empty; expected a mapping with store, rules, staff, nodes and hub');
  });

  it('reports every problem, sorted by line and column', () => {
    const text = BASE.replace('id: s1', 'id: S1')
      .replace('stepsLineZones: [floor-mid]', 'stepsLineZones: [floor-mdi]')
      .replace('{ id: ben }', '{ id: anna }')
      .replace('kind: pir', 'kind: pri')
      .replace('staff: anna', 'staff: anne');
    const err = fail(text);
    expect(err.message.split('\n')).toEqual([
      "store.yaml:2:7 store.id: 'S1' is not a valid id (lowercase letters, digits and '-', starting with a letter or digit, at most 32 characters)",
      "store.yaml:5:20 rules.stepsLineZones[0]: no presence sensor has zone 'floor-mdi' (no pir/proximity sensor has a zone)",
      "store.yaml:8:11 staff[1].id: duplicate staff id 'anna' (first at staff[0].id, 7:11)",
      "store.yaml:18:30 nodes[1].sensors[0].kind: 'pri' is not one of 'beam-pair', 'door', 'pir', 'proximity'; did you mean 'pir'?",
      "store.yaml:20:43 nodes[1].buttons[0].staff: staff 'anne' is not listed under staff; did you mean 'anna'?",
    ]);
    expect(err.issues.map((i) => [i.line, i.col])).toEqual([
      [2, 7],
      [5, 20],
      [8, 11],
      [18, 30],
      [20, 43],
    ]);
  });

  it('a user password hash, and a plain password in its place', () => {
    const user = (fields: string) => `store: { id: s1 }\nusers:\n  - { id: anna, role: owner, ${fields} }\n`;
    expect(() => parseConfig(user(`passwordHash: '$scrypt$ln=15,r=8,p=1$qwWpk4+cjzm4dueFehfdtQ$L7Z4YfP6w6yYx/5QZUsT3FFDha5ed+yew0NNDRVLQVk'`), 'u.yaml')).not.toThrow();
    // only the plain-password message: no "passwordHash is missing" beside it, and never the password itself
    const err = fail(user('Password: hunter2hunter2'), 'u.yaml');
    expect(err.message).toBe(
      'u.yaml:3:30 users[0].Password: plain passwords are not stored in the store file: run `greetwatch config hash-password` and put the result in passwordHash',
    );
    expect(fail(user('passwordHash: 12345678'), 'u.yaml').message).toBe(
      'u.yaml:3:44 users[0].passwordHash: not a valid scrypt PHC string (got number): run `greetwatch config hash-password` and put the result in passwordHash',
    );
  });
});

describe('parseConfig: meaning checks', () => {
  const one = (text: string) => {
    const issues = errorsOf(text);
    expect(issues).toHaveLength(1);
    return short(issues[0]!);
  };

  it('duplicate node ids', () => {
    expect(one(BASE.replace('id: counter-1', 'id: door-1'))).toBe("16:9 nodes[1].id: duplicate node id 'door-1' (first at nodes[0].id, 10:9)");
  });

  it('duplicate sensor/button ids across nodes and kinds', () => {
    expect(one(BASE.replace('id: fob-anna', 'id: front-beam'))).toBe(
      "20:15 nodes[1].buttons[0].id: duplicate sensor/button id 'front-beam' (first at nodes[0].sensors[0].id, 13:15)",
    );
  });

  it('a pin used twice on one node', () => {
    expect(one(BASE.replace('pin: 23', 'pin: 27'))).toBe(
      '15:65 nodes[0].buttons[0].pin: pin 27 is already used by nodes[0].sensors[0].innerPin (13:68) on this node',
    );
    // the indicator counts too; the same pin on another node is fine
    const text = BASE.replace('    buttons:\n      - { id: door-pass', '    indicator: { pin: 17 }\n    buttons:\n      - { id: door-pass');
    expect(one(text)).toBe('14:23 nodes[0].indicator.pin: pin 17 is already used by nodes[0].sensors[0].outerPin (13:54) on this node');
    expect(() => parseConfig(BASE.replace('zone: floor-mid }', 'zone: floor-mid, pin: 17 }'), 'x.yaml')).not.toThrow();
  });

  it('a beam pair with outerPin == innerPin', () => {
    expect(one(BASE.replace('innerPin: 27', 'innerPin: 17'))).toBe(
      '13:68 nodes[0].sensors[0].innerPin: innerPin is the same as outerPin (17); a beam pair needs two beams',
    );
  });

  it('a pin of the driver family: a gpio node without a board is a Pi', () => {
    expect(one(BASE.replace('pin: 23', 'pin: 40'))).toBe('15:65 nodes[0].buttons[0].pin: pin 40 is not a header GPIO on a Raspberry Pi (2-27)');
    // a sim node without a board: any pin number
    expect(() => parseConfig(BASE.replace('zone: floor-mid }', 'zone: floor-mid, pin: 40 }'), 'x.yaml')).not.toThrow();
  });

  it("a button's staff not in staff", () => {
    expect(one(BASE.replace('staff: anna', 'staff: carl'))).toBe(
      "20:43 nodes[1].buttons[0].staff: staff 'carl' is not listed under staff (staff: anna, ben)",
    );
  });

  it('a stepsLineZones zone no presence sensor has, with did-you-mean', () => {
    expect(one(BASE.replace('[floor-mid]', '[floor-mid, floor-mdi]'))).toBe(
      "5:31 rules.stepsLineZones[1]: no presence sensor has zone 'floor-mdi'; did you mean 'floor-mid'?",
    );
    expect(one(BASE.replace('[floor-mid]', '[till]'))).toBe("5:20 rules.stepsLineZones[0]: no presence sensor has zone 'till' (zones: floor-mid)");
  });

  it('warnAtS at or after greetWithinS is an error naming both', () => {
    const text = BASE.replace('rules:\n', 'rules:\n  greetWithinS: 15\n  warnAtS: 25\n');
    expect(one(text)).toBe('6:12 rules.warnAtS: warnAtS (25) is not below greetWithinS (15, at 5:17): the warning would come at or after the deadline');
    expect(one(BASE.replace('rules:\n', 'rules:\n  warnAtS: 30\n'))).toBe(
      '5:12 rules.warnAtS: warnAtS (30) is not below greetWithinS (30, the default): the warning would come at or after the deadline',
    );
    expect(() => parseConfig(BASE.replace('rules:\n', 'rules:\n  warnAtS: 29\n'), 's.yaml')).not.toThrow();
  });

  it('opening hours that end before they start, one range or several', () => {
    const text = BASE.replace(
      'timezone: Europe/Berlin',
      'timezone: Europe/Berlin\n  openingHours: { mon: "09:00-18:00", tue: "18:00-09:00", wed: "10:00-10:00", thu: "08:00-09:00, 12:00-11:00", sun: "10:00-24:00" }',
    );
    expect(errorsOf(text).map(short)).toEqual([
      '4:45 store.openingHours.tue: closing time 09:00 is not after opening time 18:00 (hours past midnight are not supported; use 24:00)',
      '4:65 store.openingHours.wed: closing time 10:00 is not after opening time 10:00 (hours past midnight are not supported; use 24:00)',
      "4:98 store.openingHours.thu: closing time 11:00 is not after opening time 12:00 in '12:00-11:00' (hours past midnight are not supported; use 24:00)",
    ]);
  });

  it('an unknown time zone, with did-you-mean', () => {
    expect(one(BASE.replace('Europe/Berlin', 'Europe/Berln'))).toBe(
      "3:13 store.timezone: 'Europe/Berln' is not a valid IANA time zone; did you mean 'Europe/Berlin'?",
    );
    expect(one(BASE.replace('Europe/Berlin', 'Mars/Olympus'))).toBe("3:13 store.timezone: 'Mars/Olympus' is not a valid IANA time zone");
  });

  it('a gpio node button or presence sensor without a pin', () => {
    expect(one(BASE.replace(', pin: 23 }', ' }'))).toBe("15:9 nodes[0].buttons[0].pin: driver 'gpio' needs a pin for button 'door-pass'");
    expect(one(BASE.replace('driver: gpio\n    sensors:\n', 'driver: gpio\n    sensors:\n      - { id: p2, kind: proximity, model: digital, zone: z2 }\n'))).toBe(
      "13:9 nodes[0].sensors[0].pin: driver 'gpio' needs a pin for sensor 'p2'",
    );
    expect(one(BASE.replace('driver: gpio\n    sensors:\n', 'driver: gpio\n    sensors:\n      - { id: p2, kind: proximity, zone: z2, pin: 9 }\n'))).toBe(
      "13:9 nodes[0].sensors[0].model: a 'hcsr04' distance sensor needs driver 'firmata' (an Arduino); on a Pi use a module with a digital output and model 'digital'",
    );
    expect(one(BASE.replace('driver: gpio\n    sensors:\n', 'driver: firmata\n    sensors:\n      - { id: p2, kind: proximity, zone: z2, pin: 9, onCm: 90, offCm: 60 }\n'))).toBe(
      '13:71 nodes[0].sensors[0].offCm: offCm (60) is below onCm (90): presence would turn off before it turned on',
    );
    // the sim node (counter-1) has a pinless pir and fob: fine
    expect(() => parseConfig(BASE, 'store.yaml')).not.toThrow();
  });
});

describe('reuse: includes, secrets, substitutions', () => {
  const mk = (name: string, files: Record<string, string>) => {
    const d = join(tmp, name);
    for (const [f, text] of Object.entries(files)) {
      const p = join(d, f);
      mkdirSync(join(p, '..'), { recursive: true });
      writeFileSync(p, text);
    }
    return d;
  };

  it('an include replaces the tagged node; nested includes are relative to their own file', () => {
    const d = mk('nested', {
      'store.yaml': 'store: { id: s1 }\nnodes:\n  - !include nodes/door.yaml\n',
      'nodes/door.yaml': 'id: door-1\nsensors: !include ../sensors/door.yaml\n',
      'sensors/door.yaml': '- { id: front-door, kind: door, pin: 22 }\n',
    });
    const cfg = loadConfig(join(d, 'store.yaml'));
    expect(cfg.nodes[0]!.sensors.map((s) => s.id)).toEqual(['front-door']);
  });

  it('the same file included twice is fine; an empty include is null', () => {
    const d = mk('twice', {
      'store.yaml': 'store: { id: s1 }\nstaff: !include staff.yaml\nnodes:\n  - { id: a, buttons: !include empty.yaml }\n  - { id: b, buttons: !include empty.yaml }\n',
      'staff.yaml': '- { id: anna }\n',
      'empty.yaml': '# nothing yet\n',
    });
    const cfg = loadConfig(join(d, 'store.yaml'));
    expect(cfg.staff).toEqual([{ id: 'anna' }]);
    expect(cfg.nodes.map((n) => n.buttons)).toEqual([[], []]);
  });

  it('substitutions: ${name} in any string; a whole ${name} keeps its type; $name stays as written', () => {
    const d = mk('subs', {
      'store.yaml': [
        'substitutions:',
        '  sid: s1',
        '  port: 1884',
        '  ip: 10.0.0.2',
        '  hash: !secret h',
        'store: { id: "${sid}", name: "$sid costs ${port} ${sid}" }',
        'users: [{ id: anna, role: owner, passwordHash: "${hash}" }]',
        'hub:',
        '  mqtt: { port: "${port}", url: "mqtt://${ip}:${port}" }',
        '',
      ].join('\n'),
      'secrets.yaml': "h: '$scrypt$ln=15,r=8,p=1$qwWpk4+cjzm4dueFehfdtQ$L7Z4YfP6w6yYx/5QZUsT3FFDha5ed+yew0NNDRVLQVk'\n",
    });
    const r = resolveConfig(join(d, 'store.yaml'));
    expect(r.config.store).toEqual({ id: 's1', name: '$sid costs 1884 s1', timezone: 'UTC', serviceLevelTarget: 0.8 });
    expect(r.config.hub.mqtt).toEqual({ host: '127.0.0.1', port: 1884, url: 'mqtt://10.0.0.2:1884' });
    expect(r.config.users[0]!.passwordHash).toMatch(/^\$scrypt\$/);
    expect(r.isSecret(['users', 0, 'passwordHash'])).toBe(true);
    expect(r.origin(['users', 0, 'passwordHash'])?.substitution).toBe('hash');
    expect(r.config).not.toHaveProperty('substitutions');
  });

  it('a bad substitutions map is reported where it is written', () => {
    const err = fail('substitutions:\n  9lives: x\n  list: [a]\nstore: { id: s1 }\n', 's.yaml');
    expect(err.code).toBe(ErrorCodes.CONFIG_PARSE);
    expect(err.message.split('\n')).toEqual([
      "s.yaml:2:3 substitutions[\"9lives\"]: '9lives' is not a valid substitution name (letters, digits and '_', not starting with a digit)",
      's.yaml:3:9 substitutions.list: expected a string, got a list',
    ]);
  });

  it('an include cycle through the top file itself', () => {
    const d = mk('self', { 'store.yaml': 'store: { id: s1 }\nnodes: !include store.yaml\n' });
    const file = join(d, 'store.yaml');
    expect(failFile(file).message).toBe(`${file}:2:8 nodes: !include 'store.yaml' makes a cycle: ${file} -> ${file}`);
  });

  it('an alias bomb or an alias inside its own anchor is a parse error, not a hang', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 8; i++) lines.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`);
    const bomb = fail(lines.join('\n') + '\n');
    expect(bomb.code).toBe(ErrorCodes.CONFIG_PARSE);
    expect(bomb.message).toMatch(/invalid YAML: the file expands to more than 200000 values/);
    const self = fail('store: &s { id: s1, again: *s }\n');
    expect(self.code).toBe(ErrorCodes.CONFIG_PARSE);
    expect(self.message).toBe('store.yaml:1:28 store.again: invalid YAML: alias *s is inside the value it names');
  });

  it('a merge: keys written in the file win, whole sections at a time', () => {
    const cfg = loadConfig(join(FIX, 'merge/store.yaml'));
    expect(cfg.store.id).toBe('s1');
    expect(cfg.rules.greetWithinS).toBe(40);
    expect(cfg.hub.mqtt.port).toBe(1884);
    expect(cfg.hub.tokens).toEqual([]); // base's hub section lost to this file's
  });
});

describe('parse and read errors', () => {
  it('YAML syntax errors carry file:line:col and GW_ERR_CONFIG_PARSE', () => {
    const err = fail('store:\n  id: a\n  id: b\nnodes: []\n', 'bad.yaml');
    expect(err.code).toBe('GW_ERR_CONFIG_PARSE');
    expect(err.message).toBe('bad.yaml:3:3: invalid YAML: Map keys must be unique');
    const err2 = fail('store:\n  id: a\nnodes: [\n  { id: n1 }\nhub: {}\n', 'bad.yaml');
    expect(err2.code).toBe(ErrorCodes.CONFIG_PARSE);
    expect(err2.message).toMatch(/^bad\.yaml:\d+:\d+: invalid YAML: /);
  });

  it('an unresolved alias is a parse error, not a crash', () => {
    const err = fail('store: *nope\n');
    expect(err.code).toBe(ErrorCodes.CONFIG_PARSE);
    expect(err.message).toBe('store.yaml:1:8 store: invalid YAML: Unresolved alias (the anchor must be set before the alias): nope');
  });

  it('a missing file is GW_ERR_CONFIG_PARSE naming the file', () => {
    const err = failFile('/definitely/not/here.yaml');
    expect(err.code).toBe('GW_ERR_CONFIG_PARSE');
    expect(err.message).toBe('/definitely/not/here.yaml: cannot read config file (no such file)');
    expect(err.issues[0]).toMatchObject({ line: 0, col: 0 });
  });
});

describe('did you mean', () => {
  it('levenshtein counts a swap as one edit', () => {
    expect(levenshtein('kitten', 'sitting')).toBe(3);
    expect(levenshtein('', 'abc')).toBe(3);
    expect(levenshtein('greetWithinSec', 'greetWithinS')).toBe(2);
    expect(levenshtein('raeder', 'reader')).toBe(1);
  });

  it('only suggests close matches', () => {
    expect(didYouMean('greetWithinSec', ['warnAtS', 'greetWithinS', 'greetLeadS'])).toBe("; did you mean 'greetWithinS'?");
    expect(didYouMean('GreetWithinS', ['greetWithinS'])).toBe("; did you mean 'greetWithinS'?");
    expect(didYouMean('xyz', ['greetWithinS'])).toBe('');
    expect(didYouMean('a', [])).toBe('');
  });

  it('points at a misspelt kind, not at the kind that is then missing', () => {
    const err = fail('store:\n  id: s1\nnodes:\n  - id: door-1\n    sensors:\n      - { id: beam, knid: door, pin: 17 }\n', 'knid.yaml');
    expect(err.message).toBe("knid.yaml:6:21 nodes[0].sensors[0].knid: unknown key 'knid'; did you mean 'kind'?");
  });
});

describe('empty sections', () => {
  it('treats an empty section (null) like a missing one where that is allowed', () => {
    const cfg = parseConfig('store:\n  id: s1\n  name:\nrules:\n  # greetWithinS: 30\nstaff:\nnodes:\n  - id: n1\n    sensors:\n    buttons:\nhub:\n', 's.yaml');
    expect(cfg.rules.greetWithinS).toBe(30);
    expect(cfg.staff).toEqual([]);
    expect(cfg.nodes[0]!.sensors).toEqual([]);
    expect(cfg.hub.mqtt.port).toBe(1883);
    expect(cfg.store).not.toHaveProperty('name');
  });

  it('still rejects null where a value is required', () => {
    expect(errorsOf('store:\n  id:\n').map(short)).toEqual(['2:3 store.id: expected a string, got null']);
  });
});

describe('opening hours in the engine (hub/engine/opening-hours.ts)', () => {
  const tz = new TimeZone('Europe/Berlin');
  // 2026-03-02 is a Monday; Berlin is UTC+1 then
  const at = (hhmm: string, day = '2026-03-02') => Date.parse(`${day}T${hhmm}:00+01:00`);

  it('parses one range, several, and closed', () => {
    expect(parseDayHours('09:00-18:00')).toEqual([{ from: 540, to: 1080 }]);
    expect(parseDayHours('09:00-12:30, 14:00-24:00')).toEqual([
      { from: 540, to: 750 },
      { from: 840, to: 1440 },
    ]);
    expect(parseDayHours('closed')).toEqual([]);
    expect(parseDayHours(undefined)).toEqual([]);
  });

  it('a single range works as before: [open, close)', () => {
    const open = openingHoursCheck({ mon: '09:00-18:00' }, tz);
    expect([open(at('08:59')), open(at('09:00')), open(at('17:59')), open(at('18:00'))]).toEqual([false, true, true, false]);
    expect(open(at('10:00', '2026-03-03'))).toBe(false); // Tuesday is not listed: closed
    expect(openingHoursCheck(undefined, tz)(at('03:00'))).toBe(true);
  });

  it('several ranges: closed in between', () => {
    const open = openingHoursCheck({ mon: '09:00-12:30, 14:00-18:00' }, tz);
    expect(['08:59', '09:00', '12:29', '12:30', '13:59', '14:00', '17:59', '18:00'].map((t) => open(at(t)))).toEqual([
      false,
      true,
      true,
      false,
      false,
      true,
      true,
      false,
    ]);
  });
});
