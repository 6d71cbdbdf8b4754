import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ErrorCodes } from '../../contract/errors.ts';
import { configCommand, loadBootstrap, type ConfigIo } from '../../firmware-config/commands.ts';
import { ConfigError, loadConfig } from '../../firmware-config/load.ts';
import { hashPassword, parsePhc, verifyPassword } from '../../firmware-config/passwords.ts';

// firmware-config/README.md "Commands": check, print, hash-password, node-bootstrap.

const ROOT = join(import.meta.dirname, '../..');
const EXAMPLES = join(ROOT, 'firmware-config/examples');
const FIX = join(ROOT, 'test/fixtures/config');
const tmp = mkdtempSync(join(tmpdir(), 'gw-config-cmd-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const HASH = '$scrypt$ln=15,r=8,p=1$qwWpk4+cjzm4dueFehfdtQ$L7Z4YfP6w6yYx/5QZUsT3FFDha5ed+yew0NNDRVLQVk';

async function run(argv: string[], extra: Partial<ConfigIo> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await configCommand(argv, { out: (l) => out.push(l), err: (l) => err.push(l), ...extra });
  return { code, out, err };
}

const stdin = (...chunks: string[]) => Readable.from(chunks.map((c) => Buffer.from(c, 'utf8')));

/** a fresh folder under the test's temp dir with these files */
function folder(name: string, files: Record<string, string>): string {
  const d = join(tmp, name);
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(join(d, f, '..'), { recursive: true });
    writeFileSync(join(d, f), text);
  }
  return d;
}

describe('config --help and usage', () => {
  it('lists every subcommand and option', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    const text = r.out.join('\n');
    for (const word of ['check <file...>', 'print <file> [--json]', 'hash-password [--password-stdin]', 'node-bootstrap <store.yaml> <node> [--out <file>] [--mqtt-url <url>]', '--help']) {
      expect(text).toContain(word);
    }
  });

  it.each([
    ['check', ['check <file...>']],
    ['print', ['--json']],
    ['hash-password', ['--password-stdin']],
    ['node-bootstrap', ['--out <file>', '--mqtt-url <url>']],
  ])('config %s --help lists its options', async (sub, words) => {
    const r = await run([sub, '--help']);
    expect(r.code).toBe(0);
    expect(r.out[0]).toMatch(new RegExp(`^usage: greetwatch config ${sub}`));
    for (const w of words) expect(r.out.join('\n')).toContain(w);
  });

  it('usage errors exit 2', async () => {
    const none = await run([]);
    expect(none.code).toBe(2);
    expect(none.err[0]).toBe('a command is missing');
    const typo = await run(['chekc', 'x.yaml']);
    expect(typo.code).toBe(2);
    expect(typo.err[0]).toBe("unknown command 'chekc'; did you mean 'check'?");
    const option = await run(['check', '--nope', 'x.yaml']);
    expect(option.code).toBe(2);
    expect(option.err[0]).toBe("Unknown option '--nope'. To specify a positional argument starting with a '-', place it at the end of the command after '--', as in '-- \"--nope\"");
    expect((await run(['print'])).code).toBe(2);
    expect((await run(['node-bootstrap', 'store.yaml'])).code).toBe(2);
  });
});

describe('config check', () => {
  it('every example passes', async () => {
    const files = ['boutique-pi4.yaml', 'demo-store.yaml', 'large-store-pi5.yaml', 'reference-kits.yaml', 'chain/berlin-mitte.yaml', 'chain/hamburg.yaml'].map((f) =>
      join(EXAMPLES, f),
    );
    const r = await run(['check', ...files]);
    expect(r).toEqual({
      code: 0,
      out: [
        `${files[0]}: ok (2 nodes, 2 sensors, 3 buttons, 2 users)`,
        `${files[1]}: ok (2 nodes, 3 sensors, 4 buttons, 0 users)`,
        `${files[2]}: ok (3 nodes, 3 sensors, 7 buttons, 3 users)`,
        `${files[3]}: ok (3 nodes, 3 sensors, 6 buttons, 0 users)`,
        `${files[4]}: ok (2 nodes, 2 sensors, 3 buttons, 2 users)`,
        `${files[5]}: ok (2 nodes, 2 sensors, 3 buttons, 2 users)`,
      ],
      err: [],
    });
  });

  it('prints every problem of every file, sorted by file, line and column; exit 1', async () => {
    const typos = join(FIX, 'typos.yaml');
    const dups = join(FIX, 'duplicate-ids.yaml');
    const r = await run(['check', typos, join(EXAMPLES, 'demo-store.yaml'), dups]);
    expect(r.code).toBe(1);
    expect(r.out).toEqual([`${join(EXAMPLES, 'demo-store.yaml')}: ok (2 nodes, 3 sensors, 4 buttons, 0 users)`]);
    expect(r.err.map((l) => l.split(`${FIX}/`).join(''))).toEqual([
      "duplicate-ids.yaml:4:11 staff[1].id: duplicate staff id 'anna' (first at staff[0].id, 3:11)",
      "duplicate-ids.yaml:8:11 users[1].id: duplicate user id 'anna' (first at users[0].id, 7:11)",
      "duplicate-ids.yaml:13:9 nodes[1].id: duplicate node id 'door-1' (first at nodes[0].id, 10:9)",
      "duplicate-ids.yaml:15:15 nodes[1].buttons[0].id: duplicate sensor/button id 'front-beam' (first at nodes[0].sensors[0].id, 12:15)",
      "typos.yaml:4:3 rules.greetWithinSec: unknown key 'greetWithinSec'; did you mean 'greetWithinS'?",
      "typos.yaml:6:23 users[0].role: 'manger' is not one of 'manager', 'owner'; did you mean 'manager'?",
      "typos.yaml:9:13 nodes[0].driver: 'gpoi' is not one of 'sim', 'gpio', 'firmata'; did you mean 'gpio'?",
      "typos.yaml:10:12 nodes[0].board: 'pi6' is not one of 'pi4', 'pi5', 'uno', 'nano'; did you mean 'pi4'?",
      "typos.yaml:12:33 nodes[0].sensors[0].kind: 'beem-pair' is not one of 'beam-pair', 'door', 'pir', 'proximity'; did you mean 'beam-pair'?",
    ]);
  });

  it('an error in a template two stores include is reported once, in the template', async () => {
    const d = folder('two-stores', {
      'template.yaml': 'nodes:\n  - { id: door, driver: gpio, board: pi4, buttons: [{ id: b, pin: 30 }] }\n',
      'a.yaml': 'store: { id: a }\n<<: !include template.yaml\n',
      'b.yaml': 'store: { id: b }\n<<: !include template.yaml\n',
    });
    const r = await run(['check', join(d, 'a.yaml'), join(d, 'b.yaml')]);
    expect(r.code).toBe(1);
    expect(r.err).toEqual([`${join(d, 'template.yaml')}:2:67 nodes[0].buttons[0].pin: pin 30 is not a header GPIO on a pi4 (2-27)`]);
  });

  it('warnings are marked and do not fail the file', async () => {
    const f = join(FIX, 'board-pins-warnings.yaml');
    const r = await run(['check', f]);
    expect(r.code).toBe(0);
    expect(r.out).toEqual([`${f}: ok (1 nodes, 0 sensors, 5 buttons, 0 users)`]);
    expect(r.err).toHaveLength(4);
    expect(r.err.every((l) => /^\S+:\d+:\d+ nodes\[0\]\.buttons\[\d\]\.pin: warning: pin /.test(l))).toBe(true);
  });
});

describe('config print', () => {
  it('prints the resolved chain store with every default and every secret and hash masked', async () => {
    const file = join(EXAMPLES, 'chain/berlin-mitte.yaml');
    const yaml = await run(['print', file]);
    expect(yaml.code).toBe(0);
    expect(yaml.err).toEqual([]);
    const text = yaml.out.join('\n');
    expect(text).not.toContain('$scrypt$');
    expect(text).not.toContain('${');
    const json = await run(['print', file, '--json']);
    const cfg = JSON.parse(json.out.join('\n')) as Record<string, unknown> & {
      store: { id: string };
      rules: { expireS: number };
      users: Array<{ passwordHash: string }>;
      nodes: Array<{ id: string; mqtt: { passwordHash: string }; faults: { calmS: number } }>;
      hub: { mqtt: { url: string } };
    };
    expect(parseYaml(text)).toEqual(cfg);
    expect(cfg.store.id).toBe('berlin-mitte');
    expect(cfg.rules.expireS).toBe(600);
    expect(cfg.nodes.map((n) => [n.id, n.mqtt.passwordHash, n.faults.calmS])).toEqual([
      ['door', '***', 10],
      ['counter', '***', 10],
    ]);
    expect(cfg.users.map((u) => u.passwordHash)).toEqual(['***', '***']);
    expect(cfg.hub.mqtt.url).toBe('mqtt://192.168.10.2:1883');
    expect(cfg).not.toHaveProperty('substitutions');
    // keys in the schema's order
    expect(Object.keys(cfg)).toEqual(['store', 'rules', 'staff', 'nodes', 'users', 'hub', 'integrations']);
  });

  it('masks whatever came from !secret, hub tokens, the integrations\' tokens and passwords, and a password in a URL', async () => {
    const d = folder('print-secrets', {
      'store.yaml': [
        'store: { id: s1, name: !secret shop_name }',
        'hub:',
        '  influx: { url: "http://gw:s3cret@127.0.0.1:8086" }',
        '  tokens: [0123456789abcdef0123, !secret api_token]',
        'integrations:',
        '  zigbee2mqtt: { url: "mqtt://broker:1883", username: z2m, password: z2m-pass-123 }',
        '  alerts:',
        '    ntfy: [{ url: "https://ntfy.example.com/t", token: tk_ntfy_0123456 }]',
        '    homeAssistant: [{ url: "http://ha:8123", token: ha-long-lived-456, service: notify.mobile_app_x }]',
        '',
      ].join('\n'),
      'secrets.yaml': 'shop_name: Secret Shop\napi_token: abcdefghijklmnopqrstuvwxyz\n',
    });
    const r = await run(['print', '--json', join(d, 'store.yaml')]);
    expect(r.code).toBe(0);
    const cfg = JSON.parse(r.out.join('\n')) as { store: { name: string }; hub: { tokens: string[]; influx: { url: string } } };
    expect(cfg.store.name).toBe('***');
    expect(cfg.hub.tokens).toEqual(['***', '***']);
    expect(cfg.hub.influx.url).toBe('http://gw:***@127.0.0.1:8086');
    const all = r.out.join('\n');
    for (const secret of ['Secret Shop', 'abcdefghijklmnopqrstuvwxyz', '0123456789abcdef0123', 's3cret', 'z2m-pass-123', 'tk_ntfy_0123456', 'ha-long-lived-456']) expect(all).not.toContain(secret);
    expect(all).toContain('notify.mobile_app_x'); // what is not a credential still shows
  });

  it('an invalid file prints its problems and exits 1', async () => {
    const r = await run(['print', join(FIX, 'timezone.yaml')]);
    expect(r.code).toBe(1);
    expect(r.out).toEqual([]);
    expect(r.err).toEqual([`${join(FIX, 'timezone.yaml')}:3:13 store.timezone: 'Europe/Berln' is not a valid IANA time zone; did you mean 'Europe/Berlin'?`]);
  });
});

describe('passwords', () => {
  it('hashPassword writes scrypt PHC with a 16-byte salt and a 32-byte key; verifyPassword checks it', async () => {
    const h = await hashPassword('correct horse');
    expect(h).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    const parsed = parsePhc(h);
    expect(parsed.ok && [parsed.value.salt.length, parsed.value.hash.length]).toEqual([16, 32]);
    expect(await verifyPassword('correct horse', h)).toBe(true);
    expect(await verifyPassword('correct horsE', h)).toBe(false);
    expect(await hashPassword('correct horse')).not.toBe(h); // a fresh salt every time
  });

  it('verifyPassword is false for anything that is not a valid hash', async () => {
    for (const bad of ['', 'hunter2', '$scrypt$ln=15,r=8,p=1$$', '$scrypt$ln=99,r=8,p=1$qwWpk4+cjzm4dueFehfdtQ$L7Z4YfP6w6yYx/5QZUsT3FFDha5ed+yew0NNDRVLQVk', '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA']) {
      expect(await verifyPassword('x', bad)).toBe(false);
    }
    expect(parsePhc('$scrypt$ln=15,r=8,p=1$c2FsdA$L7Z4YfP6w6yYx/5QZUsT3FFDha5ed+yew0NNDRVLQVk')).toEqual({ ok: false, reason: 'the salt is shorter than 8 bytes' });
  });
});

describe('config hash-password', () => {
  it('--password-stdin: the first line, hashed; the hash verifies', async () => {
    const r = await run(['hash-password', '--password-stdin'], { stdin: stdin('correct horse ', 'battery\r\nsecond line\n') });
    expect(r.code).toBe(0);
    expect(r.err).toEqual([]);
    expect(r.out).toHaveLength(1);
    expect(await verifyPassword('correct horse battery', r.out[0]!)).toBe(true);
    // a store file accepts it as it is
    expect(() => loadConfigText(`store: { id: s1 }\nusers:\n  - { id: a, role: owner, passwordHash: '${r.out[0]!}' }\n`)).not.toThrow();
  });

  it('refuses a short or an empty password', async () => {
    expect(await run(['hash-password', '--password-stdin'], { stdin: stdin('short12\n') })).toEqual({
      code: 1,
      out: [],
      err: ['the password is too short (7 characters; at least 8)'],
    });
    expect(await run(['hash-password', '--password-stdin'], { stdin: stdin('\nsecond line is not read\n') })).toEqual({
      code: 1,
      out: [],
      err: ['no password: the first line of stdin is empty'],
    });
    expect((await run(['hash-password', '--password-stdin'], { stdin: stdin('') })).code).toBe(1);
  });

  it('on a terminal it asks twice', async () => {
    const answers = (...a: string[]) => {
      const asked: string[] = [];
      return { asked, prompt: (q: string) => (asked.push(q), Promise.resolve(a.shift() ?? '')) };
    };
    const same = answers('a long password', 'a long password');
    const ok = await run(['hash-password'], { prompt: same.prompt });
    expect(ok.code).toBe(0);
    expect(same.asked).toEqual(['password: ', 'again: ']);
    expect(await verifyPassword('a long password', ok.out[0]!)).toBe(true);
    const differ = await run(['hash-password'], { prompt: answers('a long password', 'another one').prompt });
    expect(differ).toEqual({ code: 1, out: [], err: ['the two passwords differ'] });
    expect((await run(['hash-password', 'pw-as-argument'])).code).toBe(2);
  });
});

function loadConfigText(text: string) {
  const f = join(tmp, `inline-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(f, text);
  return loadConfig(f);
}

describe('config node-bootstrap', () => {
  const STORE = [
    '# the shop: comments stay where they are',
    'store: { id: shop }',
    'nodes:',
    '  - { id: door, driver: sim } # door node',
    '  - id: counter',
    '    # its own login name',
    '    mqtt:',
    `      username: till`,
    `      passwordHash: '${HASH}' # renewed by node-bootstrap`,
    '  - id: floor',
    '    driver: sim',
    '    sensors: [{ id: mid-pir, kind: pir, zone: floor-mid }]',
    '# the end',
    'hub:',
    '  mqtt: { host: 10.1.2.3, port: 1884 }',
    '',
  ].join('\n');

  it('writes a 0600 bootstrap file and the hash into the store file, changing only that line', async () => {
    const d = folder('bootstrap-inline', { 'store.yaml': STORE });
    const store = join(d, 'store.yaml');
    const r = await run(['node-bootstrap', store, 'counter'], { cwd: d });
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out).toEqual([
      "counter.bootstrap.yaml: bootstrap file for node 'counter' (mode 0600); copy it to the node and keep it private",
      `${store}: nodes[1].mqtt.passwordHash updated for node 'counter'`,
    ]);
    const bootFile = join(d, 'counter.bootstrap.yaml');
    expect(statSync(bootFile).mode & 0o777).toBe(0o600);
    const boot = loadBootstrap(bootFile);
    expect(Object.keys(boot)).toEqual(['store', 'node', 'mqttUrl', 'username', 'password']);
    expect(boot).toMatchObject({ store: 'shop', node: 'counter', mqttUrl: 'mqtt://10.1.2.3:1884', username: 'till' });
    expect(boot.password).toMatch(/^[A-Za-z0-9_-]{32}$/);

    const after = readFileSync(store, 'utf8');
    const before = STORE.split('\n');
    const lines = after.split('\n');
    expect(lines).toHaveLength(before.length);
    const changed = lines.flatMap((l, i) => (l === before[i] ? [] : [i + 1]));
    expect(changed).toEqual([9]);
    expect(lines[8]).toMatch(/^ {6}passwordHash: '\$scrypt\$ln=15,r=8,p=1\$[^']+' # renewed by node-bootstrap$/);
    const hash = loadConfig(store).nodes[1]!.mqtt!.passwordHash;
    expect(hash).not.toBe(HASH);
    expect(await verifyPassword(boot.password, hash)).toBe(true);
  });

  it('adds a login to a node that has none: flow and block style, the rest unchanged', async () => {
    const d = folder('bootstrap-add', { 'store.yaml': STORE });
    const store = join(d, 'store.yaml');
    const door = await run(['node-bootstrap', store, 'door', '--out', 'boot/door.yaml', '--mqtt-url', 'mqtts://hub.shop.lan:8883'], { cwd: d });
    expect(door.code).toBe(1); // boot/ does not exist
    expect(door.err).toEqual(["boot/door.yaml: cannot write the bootstrap file (ENOENT)"]);
    mkdirSync(join(d, 'boot'));
    const ok = await run(['node-bootstrap', store, 'door', '--out', 'boot/door.yaml', '--mqtt-url', 'mqtts://hub.shop.lan:8883'], { cwd: d });
    expect(ok.code).toBe(0);
    const floor = await run(['node-bootstrap', store, 'floor'], { cwd: d });
    expect(floor.code).toBe(0);

    const lines = readFileSync(store, 'utf8').split('\n');
    expect(lines[3]).toMatch(/^ {2}- \{ id: door, driver: sim, mqtt: \{ passwordHash: '\$scrypt\$[^']+' \} \} # door node$/);
    expect(lines[12]).toMatch(/^ {4}mqtt: \{ passwordHash: '\$scrypt\$[^']+' \}$/);
    expect(lines.filter((_, i) => i !== 3 && i !== 12)).toEqual(STORE.split('\n').filter((_, i) => i !== 3));

    const cfg = loadConfig(store);
    const doorBoot = loadBootstrap(join(d, 'boot/door.yaml'));
    expect(doorBoot).toMatchObject({ node: 'door', username: 'door', mqttUrl: 'mqtts://hub.shop.lan:8883' });
    expect(await verifyPassword(doorBoot.password, cfg.nodes[0]!.mqtt!.passwordHash)).toBe(true);
    const floorBoot = loadBootstrap(join(d, 'floor.bootstrap.yaml'));
    expect(await verifyPassword(floorBoot.password, cfg.nodes[2]!.mqtt!.passwordHash)).toBe(true);
  });

  it('a hash from secrets.yaml through a substitution: prints the line for secrets.yaml, edits nothing', async () => {
    const d = join(tmp, 'bootstrap-chain');
    cpSync(join(EXAMPLES, 'chain'), d, { recursive: true });
    const before = ['berlin-mitte.yaml', 'store-template.yaml', 'secrets.yaml'].map((f) => readFileSync(join(d, f), 'utf8'));
    const store = join(d, 'berlin-mitte.yaml');
    const r = await run(['node-bootstrap', store, 'door'], { cwd: d });
    expect(r.code).toBe(0);
    expect(r.out[0]).toBe("door.bootstrap.yaml: bootstrap file for node 'door' (mode 0600); copy it to the node and keep it private");
    expect(r.out[1]).toBe(`${join(d, 'secrets.yaml')}: the hash for node 'door' lives there, not in ${store}; put this line there:`);
    const m = /^ {2}berlin_door_hash: '(\$scrypt\$[^']+)'$/.exec(r.out[2]!);
    expect(m).not.toBeNull();
    expect(['berlin-mitte.yaml', 'store-template.yaml', 'secrets.yaml'].map((f) => readFileSync(join(d, f), 'utf8'))).toEqual(before);
    const boot = loadBootstrap(join(d, 'door.bootstrap.yaml'));
    expect(boot).toMatchObject({ store: 'berlin-mitte', node: 'door', mqttUrl: 'mqtt://192.168.10.2:1883', username: 'door' });
    expect(await verifyPassword(boot.password, m![1]!)).toBe(true);
  });

  it('a hash written in an included file: prints where to put it', async () => {
    const d = folder('bootstrap-include', {
      'store.yaml': 'store: { id: s1 }\nnodes: !include nodes.yaml\n',
      'nodes.yaml': `- id: door\n  mqtt:\n    passwordHash: '${HASH}'\n`,
    });
    const r = await run(['node-bootstrap', join(d, 'store.yaml'), 'door'], { cwd: d });
    expect(r.code).toBe(0);
    expect(r.out[1]).toBe(`${join(d, 'nodes.yaml')}:3:19: the hash for node 'door' lives there, not in ${join(d, 'store.yaml')}; put this line there:`);
    expect(r.out[2]).toMatch(/^ {2}passwordHash: '\$scrypt\$ln=15,r=8,p=1\$[^']+'$/);
    expect(readFileSync(join(d, 'nodes.yaml'), 'utf8')).toContain(HASH);
  });

  it('an unknown node, a bad URL, an invalid store', async () => {
    const d = folder('bootstrap-errors', { 'store.yaml': STORE });
    const store = join(d, 'store.yaml');
    expect(await run(['node-bootstrap', store, 'dor'], { cwd: d })).toEqual({
      code: 1,
      out: [],
      err: [`${store}: no node 'dor'; did you mean 'door'?`],
    });
    const url = await run(['node-bootstrap', store, 'door', '--mqtt-url', 'http://x'], { cwd: d });
    expect(url.code).toBe(2);
    expect(url.err[0]).toBe("--mqtt-url 'http://x' is not an mqtt:// or mqtts:// URL");
    const bad = await run(['node-bootstrap', join(FIX, 'timezone.yaml'), 'n1'], { cwd: d });
    expect(bad.code).toBe(1);
    expect(bad.err).toEqual([`${join(FIX, 'timezone.yaml')}:3:13 store.timezone: 'Europe/Berln' is not a valid IANA time zone; did you mean 'Europe/Berlin'?`]);
  });

  it('warns when the default URL would be 0.0.0.0', async () => {
    const d = folder('bootstrap-any', { 'store.yaml': 'store: { id: s1 }\nnodes: [{ id: n1 }]\nhub: { mqtt: { host: 0.0.0.0 } }\n' });
    const r = await run(['node-bootstrap', join(d, 'store.yaml'), 'n1'], { cwd: d });
    expect(r.code).toBe(0);
    expect(r.err).toEqual(['warning: hub.mqtt.host is 0.0.0.0, which a node cannot connect to: set hub.mqtt.url or pass --mqtt-url']);
  });
});

describe('loadBootstrap', () => {
  it('reports problems as file:line:col path: message', () => {
    const f = join(tmp, 'broken.bootstrap.yaml');
    writeFileSync(f, 'store: demo\nnode: Door\nmqttUrl: http://hub:1883\nusername: door\npasword: abc\n');
    let caught: unknown;
    try {
      loadBootstrap(f);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).code).toBe(ErrorCodes.CONFIG_INVALID);
    expect((caught as ConfigError).message.split('\n')).toEqual([
      `${f}:1:1 password: required key 'password' is missing`,
      `${f}:2:7 node: 'Door' is not a valid id (lowercase letters, digits and '-', starting with a letter or digit, at most 32 characters)`,
      `${f}:3:10 mqttUrl: 'http://hub:1883' is not valid: expected mqtt://host:port or mqtts://host:port of the hub broker`,
      `${f}:5:1 pasword: unknown key 'pasword'; did you mean 'password'?`,
    ]);
    const missing = join(tmp, 'none.yaml');
    expect(() => loadBootstrap(missing)).toThrow(`${missing}: cannot read config file (no such file)`);
  });
});
