import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, GwError } from '../../contract/errors.ts';
import { ConfigError, didYouMean, levenshtein, loadConfig, parseConfig, type ConfigIssue } from '../../firmware-config/load.ts';

const EXAMPLES = join(import.meta.dirname, '../../firmware-config/examples');

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

const errorsOf = (text: string): ConfigIssue[] => fail(text).issues.filter((i) => i.severity === 'error');

describe('parseConfig: valid configs', () => {
  it('accepts the base config and fills every contract default', () => {
    const cfg = parseConfig(BASE, 'store.yaml');
    expect(cfg.rules).toEqual({
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
    expect(cfg.nodes[1]!.driver).toBe('sim');
    expect(cfg.nodes[0]!.sensors[0]).toMatchObject({ crossingMs: 1500, debounceMs: 20 });
    expect(cfg.nodes[1]!.sensors[0]).toMatchObject({ debounceMs: 50 });
    expect(cfg.nodes[1]!.buttons[0]).toMatchObject({ action: 'greet', debounceMs: 30 });
    expect(cfg.hub).toEqual({
      mqtt: { host: '127.0.0.1', port: 1883 },
      http: { host: '127.0.0.1', port: 8080 },
      influx: { database: 'greetwatch', managed: true },
      dataDir: '.data',
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

  it.each(readdirSync(EXAMPLES).filter((f) => /\.(ya?ml|json)$/.test(f)))('example %s validates', (f) => {
    const warnings: ConfigIssue[] = [];
    const cfg = loadConfig(join(EXAMPLES, f), { onWarning: (w) => warnings.push(w) });
    expect(cfg.nodes.length).toBeGreaterThan(0);
    expect(warnings).toEqual([]);
  });

  it('has the examples the docs promise', () => {
    const small = loadConfig(join(EXAMPLES, 'small-shop.yaml'));
    expect(small.nodes).toHaveLength(1);
    expect(small.store.openingHours).toBeUndefined();
    expect(small.store.timezone).toBe('UTC');
    const chain = loadConfig(join(EXAMPLES, 'chain-store.yaml'));
    expect(chain.nodes).toHaveLength(3);
    expect(chain.store.timezone).toBe('America/New_York');
    expect(chain.hub.influx.url).toMatch(/^http/);
    expect(chain.rules.stepsLineZones.length).toBeGreaterThan(0);
    const buttons = chain.nodes.flatMap((n) => n.buttons);
    expect(buttons.some((b) => b.action === 'staffpass')).toBe(true);
    expect(chain.staff.every((s) => buttons.some((b) => b.kind === 'fob' && b.staff === s.id))).toBe(true);
  });
});

describe('parseConfig: schema errors', () => {
  it('suggests the rule key for a misspelt one, at its line', () => {
    const err = fail(withLine(5, '  greetWithinSec: 30'));
    expect(err.code).toBe(ErrorCodes.CONFIG_INVALID);
    expect(err.code).toBe('GW_ERR_CONFIG_INVALID');
    expect(err).toBeInstanceOf(GwError);
    expect(err.message).toBe("store.yaml:5 rules.greetWithinSec: unknown key 'greetWithinSec'; did you mean 'greetWithinS'?");
    expect(err.issues).toEqual([
      {
        file: 'store.yaml',
        line: 5,
        path: 'rules.greetWithinSec',
        message: "unknown key 'greetWithinSec'; did you mean 'greetWithinS'?",
        severity: 'error',
      },
    ]);
  });

  it('lists the valid keys when nothing is close', () => {
    const [issue] = errorsOf(withLine(5, '  zzzzzz: 1'));
    expect(issue!.message).toMatch(/^unknown key 'zzzzzz' \(valid keys: greetWithinS, stepsLineZones, /);
  });

  it('suggests the sensor kind for a misspelt one', () => {
    const err = fail(withLine(13, '      - { id: front-beam, kind: beem-pair, outerPin: 17, innerPin: 27 }'));
    expect(err.message).toBe(
      "store.yaml:13 nodes[0].sensors[0].kind: 'beem-pair' is not one of 'beam-pair', 'door', 'pir', 'proximity'; did you mean 'beam-pair'?",
    );
  });

  it('suggests enum values for buttons and drivers', () => {
    const issues = errorsOf(
      withLine(11, '    driver: gpoi').replace('kind: counter, action: staffpass', 'kind: countr, action: staffpas'),
    );
    expect(issues.map((i) => [i.line, i.path, i.message])).toEqual([
      [11, 'nodes[0].driver', "'gpoi' is not one of 'sim', 'gpio', 'firmata'; did you mean 'gpio'?"],
      [15, 'nodes[0].buttons[0].kind', "'countr' is not one of 'counter', 'fob'; did you mean 'counter'?"],
      [15, 'nodes[0].buttons[0].action', "'staffpas' is not one of 'greet', 'staffpass'; did you mean 'staffpass'?"],
    ]);
  });

  it('reports a missing required key at the mapping that lacks it', () => {
    const issues = errorsOf(withLine(13, '      - { id: front-beam, kind: beam-pair, outerPin: 17 }'));
    expect(issues).toMatchObject([{ line: 13, path: 'nodes[0].sensors[0].innerPin', message: "required key 'innerPin' is missing" }]);
  });

  it('reports bad values: types, ranges, id and hours patterns', () => {
    const text = BASE.replace('id: s1', 'id: S1')
      .replace('stepsLineZones: [floor-mid]', 'stepsLineZones: [floor-mid]\n  greetWithinS: soon')
      .replace('outerPin: 17', 'outerPin: 99')
      .replace('timezone: Europe/Berlin', 'timezone: Europe/Berlin\n  openingHours: { mon: "9-5" }');
    const issues = errorsOf(text);
    expect(issues.map((i) => `${i.line} ${i.path}: ${i.message}`)).toEqual([
      "2 store.id: 'S1' is not a valid id (lowercase letters, digits and '-', starting with a letter or digit, at most 32 characters)",
      `4 store.openingHours.mon: '9-5' is not valid: expected "HH:MM-HH:MM" store-local, or "closed"`,
      "7 rules.greetWithinS: expected a number, got string 'soon'",
      '15 nodes[0].sensors[0].outerPin: must be at most 63, got 99',
    ]);
  });

  it('reports a wrong shape without crashing the cross-field checks', () => {
    const issues = errorsOf('store: { id: s1 }\nnodes:\n  - 5\n  - { id: n1, sensors: { a: 1 } }\nstaff: nobody\n');
    expect(issues.map((i) => `${i.line} ${i.path}: ${i.message}`)).toEqual([
      '3 nodes[0]: expected a mapping, got number 5',
      '4 nodes[1].sensors: expected a list, got a mapping',
      "5 staff: expected a list, got string 'nobody'",
    ]);
  });

  it('reports an empty file', () => {
    const err = fail('');
    expect(err.code).toBe(ErrorCodes.CONFIG_INVALID);
    expect(err.message).toMatch(/^store\.yaml:1: the file is empty/);
  });

  it('reports every problem, sorted by line', () => {
    const text = BASE.replace('id: s1', 'id: S1')
      .replace('stepsLineZones: [floor-mid]', 'stepsLineZones: [floor-mdi]')
      .replace('{ id: ben }', '{ id: anna }')
      .replace('kind: pir', 'kind: pri')
      .replace('staff: anna', 'staff: anne');
    const err = fail(text);
    const lines = err.message.split('\n');
    expect(lines).toEqual([
      "store.yaml:2 store.id: 'S1' is not a valid id (lowercase letters, digits and '-', starting with a letter or digit, at most 32 characters)",
      "store.yaml:5 rules.stepsLineZones[0]: no presence sensor has zone 'floor-mdi' (no pir/proximity sensor has a zone)",
      "store.yaml:8 staff[1].id: duplicate staff id 'anna' (first at staff[0].id, line 7)",
      "store.yaml:18 nodes[1].sensors[0].kind: 'pri' is not one of 'beam-pair', 'door', 'pir', 'proximity'; did you mean 'pir'?",
      "store.yaml:20 nodes[1].buttons[0].staff: staff 'anne' is not listed under staff; did you mean 'anna'?",
    ]);
    expect(err.issues.map((i) => i.line)).toEqual([2, 5, 8, 18, 20]);
  });
});

describe('parseConfig: cross-field checks', () => {
  const one = (text: string) => {
    const issues = errorsOf(text);
    expect(issues).toHaveLength(1);
    return `${issues[0]!.line} ${issues[0]!.path}: ${issues[0]!.message}`;
  };

  it('duplicate node ids', () => {
    expect(one(BASE.replace('id: counter-1', 'id: door-1'))).toBe(
      "16 nodes[1].id: duplicate node id 'door-1' (first at nodes[0].id, line 10)",
    );
  });

  it('duplicate sensor/button ids across nodes and kinds', () => {
    expect(one(BASE.replace('id: fob-anna', 'id: front-beam'))).toBe(
      "20 nodes[1].buttons[0].id: duplicate sensor/button id 'front-beam' (first at nodes[0].sensors[0].id, line 13)",
    );
  });

  it('duplicate staff ids', () => {
    expect(one(BASE.replace('{ id: ben }', '{ id: anna }'))).toBe(
      "8 staff[1].id: duplicate staff id 'anna' (first at staff[0].id, line 7)",
    );
  });

  it('a pin used twice on one node', () => {
    expect(one(BASE.replace('pin: 23', 'pin: 27'))).toBe(
      '15 nodes[0].buttons[0].pin: pin 27 is already used by nodes[0].sensors[0].innerPin (line 13) on this node',
    );
    // the indicator counts too; the same pin on another node is fine
    const text = BASE.replace('    buttons:\n      - { id: door-pass', '    indicator: { pin: 17 }\n    buttons:\n      - { id: door-pass');
    expect(one(text)).toMatch(/^14 nodes\[0\]\.indicator\.pin: pin 17 is already used by nodes\[0\]\.sensors\[0\]\.outerPin/);
    expect(() => parseConfig(BASE.replace('zone: floor-mid }', 'zone: floor-mid, pin: 17 }'), 'x.yaml')).not.toThrow();
  });

  it('a beam pair with outerPin == innerPin', () => {
    expect(one(BASE.replace('innerPin: 27', 'innerPin: 17'))).toBe(
      '13 nodes[0].sensors[0].innerPin: innerPin is the same as outerPin (17); a beam pair needs two beams',
    );
  });

  it("a button's staff not in staff", () => {
    expect(one(BASE.replace('staff: anna', 'staff: carl'))).toBe(
      "20 nodes[1].buttons[0].staff: staff 'carl' is not listed under staff (staff: anna, ben)",
    );
  });

  it('a stepsLineZones zone no presence sensor has, with did-you-mean', () => {
    expect(one(BASE.replace('[floor-mid]', '[floor-mid, floor-mdi]'))).toBe(
      "5 rules.stepsLineZones[1]: no presence sensor has zone 'floor-mdi'; did you mean 'floor-mid'?",
    );
    expect(one(BASE.replace('[floor-mid]', '[till]'))).toBe("5 rules.stepsLineZones[0]: no presence sensor has zone 'till' (zones: floor-mid)");
  });

  it('warnAtS > greetWithinS is a warning, not an error', () => {
    const warnings: ConfigIssue[] = [];
    const text = BASE.replace('rules:\n', 'rules:\n  greetWithinS: 15\n  warnAtS: 25\n');
    const cfg = parseConfig(text, 'store.yaml', { onWarning: (w) => warnings.push(w) });
    expect(cfg.rules.warnAtS).toBe(25);
    expect(warnings).toEqual([
      {
        file: 'store.yaml',
        line: 6,
        path: 'rules.warnAtS',
        message: 'warnAtS (25) is later than greetWithinS (15): the warning would come after the deadline',
        severity: 'warning',
      },
    ]);
    // next to errors it shows up marked as a warning
    const err = fail(text.replace('id: s1', 'id: S1'));
    expect(err.message.split('\n')[1]).toBe(
      'store.yaml:6 rules.warnAtS: warning: warnAtS (25) is later than greetWithinS (15): the warning would come after the deadline',
    );
  });

  it('opening hours that end before they start', () => {
    const text = BASE.replace('timezone: Europe/Berlin', 'timezone: Europe/Berlin\n  openingHours: { mon: "09:00-18:00", tue: "18:00-09:00", wed: "10:00-10:00", sun: "10:00-24:00" }');
    const issues = errorsOf(text);
    expect(issues.map((i) => `${i.line} ${i.path}: ${i.message}`)).toEqual([
      '4 store.openingHours.tue: closing time 09:00 is not after opening time 18:00 (hours past midnight are not supported; use 24:00)',
      '4 store.openingHours.wed: closing time 10:00 is not after opening time 10:00 (hours past midnight are not supported; use 24:00)',
    ]);
  });

  it('an unknown time zone, with did-you-mean', () => {
    expect(one(BASE.replace('Europe/Berlin', 'Europe/Berln'))).toBe(
      "3 store.timezone: 'Europe/Berln' is not a valid IANA time zone; did you mean 'Europe/Berlin'?",
    );
    expect(one(BASE.replace('Europe/Berlin', 'Mars/Olympus'))).toBe("3 store.timezone: 'Mars/Olympus' is not a valid IANA time zone");
  });

  it('a gpio node button or presence sensor without a pin', () => {
    expect(one(BASE.replace(', pin: 23 }', ' }'))).toBe("15 nodes[0].buttons[0].pin: driver 'gpio' needs a pin for button 'door-pass'");
    expect(one(BASE.replace('driver: gpio\n    sensors:\n', 'driver: gpio\n    sensors:\n      - { id: p2, kind: proximity, model: digital, zone: z2 }\n'))).toBe(
      "13 nodes[0].sensors[0].pin: driver 'gpio' needs a pin for sensor 'p2'",
    );
    expect(one(BASE.replace('driver: gpio\n    sensors:\n', 'driver: gpio\n    sensors:\n      - { id: p2, kind: proximity, zone: z2, pin: 9 }\n'))).toBe(
      "13 nodes[0].sensors[0].model: a 'hcsr04' distance sensor needs driver 'firmata' (an Arduino); on a Pi use a module with a digital output and model 'digital'",
    );
    expect(one(BASE.replace('driver: gpio\n    sensors:\n', 'driver: firmata\n    sensors:\n      - { id: p2, kind: proximity, zone: z2, pin: 9, onCm: 90, offCm: 60 }\n'))).toBe(
      "13 nodes[0].sensors[0].offCm: offCm (60) is below onCm (90): presence would turn off before it turned on",
    );
    // the sim node (counter-1) has a pinless pir and fob: fine
    expect(() => parseConfig(BASE, 'store.yaml')).not.toThrow();
  });
});

describe('parse and read errors', () => {
  it('YAML syntax errors carry file:line and GW_ERR_CONFIG_PARSE', () => {
    const err = fail('store:\n  id: a\n  id: b\nnodes: []\n', 'bad.yaml');
    expect(err.code).toBe('GW_ERR_CONFIG_PARSE');
    expect(err.message).toBe('bad.yaml:3: invalid YAML: Map keys must be unique');
    const err2 = fail('store:\n  id: a\nnodes: [\n  { id: n1 }\nhub: {}\n', 'bad.yaml');
    expect(err2.code).toBe(ErrorCodes.CONFIG_PARSE);
    expect(err2.message).toMatch(/^bad\.yaml:\d+: invalid YAML: /);
  });

  it('an unresolved alias is a parse error, not a crash', () => {
    const err = fail('store: *nope\n');
    expect(err.code).toBe(ErrorCodes.CONFIG_PARSE);
    expect(err.message).toMatch(/^store\.yaml:1: invalid YAML: .*nope/);
  });

  it('a missing file is GW_ERR_CONFIG_PARSE naming the file', () => {
    let caught: unknown;
    try {
      loadConfig('/definitely/not/here.yaml');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).code).toBe('GW_ERR_CONFIG_PARSE');
    expect((caught as ConfigError).message).toBe('/definitely/not/here.yaml: cannot read config file (no such file)');
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
    expect(errorsOf('store:\n  id:\n').map((i) => `${i.line} ${i.path}: ${i.message}`)).toEqual(['2 store.id: expected a string, got null']);
  });
});
