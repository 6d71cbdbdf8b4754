import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../firmware-config/load.ts';
import type { Node, Pin } from '../../firmware-config/schema.ts';

// The deployment files stay in step with each other: every example config loads, the
// reference kits' pins in WIRING.md are exactly those of reference-kits.yaml, the systemd
// unit runs the node from its bootstrap file as the install guide says, and the installer
// parses.

const ROOT = join(import.meta.dirname, '../..');
const EXAMPLES = join(ROOT, 'firmware-config/examples');
const KITS = join(EXAMPLES, 'reference-kits.yaml');
const DEPLOY = join(ROOT, 'edge/deploy');
const WIRING = join(DEPLOY, 'WIRING.md');
const UNIT = join(DEPLOY, 'greetwatch-node@.service');
const INSTALL = join(DEPLOY, 'install-pi.sh');
const GUIDE = join(DEPLOY, 'README.md');

describe('example configs', () => {
  const files = readdirSync(EXAMPLES)
    .filter((f) => /\.(ya?ml|json)$/.test(f))
    .sort();

  it('include the reference kits', () => {
    expect(files).toContain('reference-kits.yaml');
  });

  it.each(files)('%s loads without errors', (file) => {
    expect(() => loadConfig(join(EXAMPLES, file))).not.toThrow();
  });
});

// ---------------------------------------------------------------------------------------
// WIRING.md pin tables: under a heading `### Pin table: node \`<id>\``, a table with the
// columns below, one row per pin.

const COLUMNS = ['pin', 'header', 'connects to', 'config', 'pull', 'config.txt'];

interface PinRow {
  pin: Pin;
  header: string;
  /** `<sensor or button id>.<field>` or `indicator.<field>` */
  config: string;
  pull: string;
  configTxt: string;
}

function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split('|')
    .map((c) => c.trim().replace(/^`(.*)`$/, '$1'));
}

function parsePin(text: string): Pin {
  if (/^\d+$/.test(text)) return Number(text);
  if (/^A[0-7]$/.test(text)) return text;
  throw new Error(`WIRING.md: '${text}' is not a pin (a number, or A0-A7)`);
}

function pinTables(markdown: string): Map<string, PinRow[]> {
  const lines = markdown.split('\n');
  const tables = new Map<string, PinRow[]>();
  for (let i = 0; i < lines.length; i++) {
    const heading = /^#{2,4} Pin table: node `([a-z0-9-]+)`\s*$/.exec(lines[i]!);
    if (!heading) continue;
    const node = heading[1]!;
    let j = i + 1;
    while (j < lines.length && !lines[j]!.startsWith('|')) j++;
    const rows: string[][] = [];
    for (; j < lines.length && lines[j]!.startsWith('|'); j++) rows.push(cells(lines[j]!));
    const [head, separator, ...body] = rows;
    expect(head, `pin table of ${node}: header`).toEqual(COLUMNS);
    expect(separator?.every((c) => /^:?-+:?$/.test(c)), `pin table of ${node}: separator row`).toBe(true);
    expect(tables.has(node), `two pin tables for ${node}`).toBe(false);
    tables.set(
      node,
      body.map((r) => {
        expect(r, `pin table of ${node}: row ${r.join(' | ')}`).toHaveLength(COLUMNS.length);
        return { pin: parsePin(r[0]!), header: r[1]!, config: r[3]!, pull: r[4]!, configTxt: r[5]! };
      }),
    );
  }
  return tables;
}

interface UsedPin {
  config: string;
  /** the wiring's pull for inputs; '—' for outputs */
  pull: string;
  output: boolean;
}

/** Every pin the node's config uses, keyed by pin, named like WIRING.md's config column. */
function configPins(node: Node): Map<string, UsedPin> {
  const used = new Map<string, UsedPin>();
  const add = (pin: Pin | undefined, config: string, pull: string | undefined, output = false) => {
    if (pin === undefined) return;
    expect(used.has(String(pin)), `${node.id}: pin ${pin} used twice (${config})`).toBe(false);
    used.set(String(pin), { config, pull: output ? '—' : (pull ?? '(not set)'), output });
  };
  for (const s of node.sensors) {
    if (s.kind === 'beam-pair') {
      add(s.outerPin, `${s.id}.outerPin`, s.pull);
      add(s.innerPin, `${s.id}.innerPin`, s.pull);
    } else add(s.pin, `${s.id}.pin`, s.pull);
  }
  for (const b of node.buttons) add(b.pin, `${b.id}.pin`, b.pull);
  add(node.indicator?.pin, 'indicator.pin', undefined, true);
  add(node.indicator?.buzzerPin, 'indicator.buzzerPin', undefined, true);
  return used;
}

/** BCM GPIO number → physical pin on the Raspberry Pi 40-pin header. */
const BCM_HEADER: Record<number, number> = {
  2: 3, 3: 5, 4: 7, 5: 29, 6: 31, 7: 26, 8: 24, 9: 21, 10: 19, 11: 23, 12: 32, 13: 33, 14: 8,
  15: 10, 16: 36, 17: 11, 18: 12, 19: 35, 20: 38, 21: 40, 22: 15, 23: 16, 24: 18, 25: 22,
  26: 37, 27: 13,
};
const PULL_CODE: Record<string, string> = { up: 'pu', down: 'pd', none: 'pn' };

describe('reference kits: WIRING.md and reference-kits.yaml', () => {
  const cfg = loadConfig(KITS);
  const tables = pinTables(readFileSync(WIRING, 'utf8'));

  it('has one pin table per node, and a node per pin table', () => {
    expect([...tables.keys()].sort()).toEqual(cfg.nodes.map((n) => n.id).sort());
    expect(tables.size).toBe(3);
  });

  it('uses real hardware drivers with a board on every node', () => {
    for (const node of cfg.nodes) {
      expect(['gpio', 'firmata'], node.id).toContain(node.driver);
      expect(node.board, node.id).toBeDefined();
      const pi = node.board === 'pi4' || node.board === 'pi5';
      expect(pi, `${node.id}: board ${node.board} with driver ${node.driver}`).toBe(node.driver === 'gpio');
    }
  });

  for (const node of loadConfig(KITS).nodes) {
    describe(`node ${node.id}`, () => {
      const rows = () => tables.get(node.id) ?? [];

      it('lists exactly the pins of the config, each for the same field', () => {
        const fromTable = Object.fromEntries(rows().map((r) => [String(r.pin), r.config]));
        const fromConfig = Object.fromEntries([...configPins(node)].map(([pin, u]) => [pin, u.config]));
        expect(rows().length, 'a pin twice in the table').toBe(Object.keys(fromTable).length);
        expect(fromTable).toEqual(fromConfig);
      });

      it('gives the pull the config records, and the config.txt line that sets it', () => {
        const used = configPins(node);
        for (const r of rows()) {
          const u = used.get(String(r.pin));
          if (!u) continue; // reported by the test above
          expect(r.pull, `${node.id} pin ${r.pin}: pull`).toBe(u.pull);
          if (node.driver !== 'gpio') {
            expect(r.configTxt, `${node.id} pin ${r.pin}: config.txt is for a Pi only`).toBe('—');
          } else if (u.output) {
            expect(r.configTxt, `${node.id} pin ${r.pin}`).toBe(`gpio=${r.pin}=op,dl`);
          } else {
            expect(r.configTxt, `${node.id} pin ${r.pin}`).toBe(`gpio=${r.pin}=ip,${PULL_CODE[u.pull] ?? '?'}`);
          }
        }
      });

      it('names the right header pin, and only usable pins', () => {
        for (const r of rows()) {
          if (node.driver === 'gpio') {
            expect(typeof r.pin, `${node.id}: a Pi pin is a BCM number`).toBe('number');
            const bcm = r.pin as number;
            expect(bcm, `${node.id}: BCM GPIO 4-27 only`).toBeGreaterThanOrEqual(4);
            expect(bcm).toBeLessThanOrEqual(27);
            expect([14, 15], `${node.id}: GPIO ${bcm} is the serial console`).not.toContain(bcm);
            expect(r.header, `${node.id}: header pin of GPIO ${bcm}`).toBe(String(BCM_HEADER[bcm]));
          } else {
            expect(r.header, `${node.id}: label of pin ${r.pin}`).toBe(typeof r.pin === 'number' ? `D${r.pin}` : r.pin);
            expect([0, 1], `${node.id}: D0/D1 carry the serial line`).not.toContain(r.pin);
          }
        }
      });
    });
  }

  it('marks the steps line with the floor node, and gives each fob to a listed staff member', () => {
    const floorZones = cfg.nodes
      .filter((n) => n.driver === 'firmata')
      .flatMap((n) => n.sensors.flatMap((s) => (s.kind === 'proximity' ? [s.zone] : [])));
    expect(cfg.rules.stepsLineZones.length).toBeGreaterThan(0);
    for (const z of cfg.rules.stepsLineZones) expect(floorZones).toContain(z);
    const fobs = cfg.nodes.flatMap((n) => n.buttons.filter((b) => b.kind === 'fob'));
    expect(fobs.length).toBeGreaterThan(0);
    const staff = new Set(cfg.staff.map((s) => s.id));
    for (const f of fobs) expect(staff.has(f.staff ?? ''), `${f.id}: staff ${f.staff}`).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------

describe('systemd unit', () => {
  const text = readFileSync(UNIT, 'utf8');
  const lines = text.split('\n').map((l) => l.trim());
  const values = (key: string) => lines.filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));

  it('restarts always, as the unprivileged user greetwatch with gpio and dialout', () => {
    expect(values('Restart')).toEqual(['always']);
    expect(values('RestartSec')).toEqual(['2']);
    expect(values('User')).toEqual(['greetwatch']);
    const groups = values('SupplementaryGroups').join(' ').split(/\s+/);
    expect(groups).toContain('gpio');
    expect(groups).toContain('dialout');
  });

  it('runs `greetwatch node` from the instance\'s bootstrap file, not the store file', () => {
    const [exec, ...more] = values('ExecStart');
    expect(more).toEqual([]);
    expect(exec).toContain('bin/greetwatch.mjs node --bootstrap /etc/greetwatch/%i.bootstrap.yaml');
    expect(exec).toContain('--data-dir /var/lib/greetwatch');
    expect(exec).not.toContain('--config');
    expect(exec).not.toContain('--node');
  });

  it('stops with SIGTERM and a timeout, and keeps devices visible', () => {
    expect(values('KillSignal')).toEqual(['SIGTERM']);
    expect(values('TimeoutStopSec')).toHaveLength(1);
    expect(values('PrivateDevices')).toEqual([]);
    expect(values('ProtectKernelTunables')).toEqual([]);
  });
});

describe('edge/deploy/README.md', () => {
  const guide = readFileSync(GUIDE, 'utf8');

  it('quotes the unit\'s command exactly', () => {
    const exec = readFileSync(UNIT, 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l.startsWith('ExecStart='))!
      .slice('ExecStart='.length);
    expect(guide).toContain(exec);
  });

  it('makes node logins on the hub with `config node-bootstrap`, and checks the store file there', () => {
    expect(guide).toContain('config node-bootstrap');
    expect(guide).toContain('config check');
    expect(guide).toContain('/etc/greetwatch/door-1.bootstrap.yaml');
    expect(guide).toContain('ExecReload=/bin/kill -HUP $MAINPID');
  });
});

describe('install-pi.sh', () => {
  it('parses (bash -n)', () => {
    const r = spawnSync('bash', ['-n', INSTALL], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('prints its usage with --help and does nothing else', () => {
    // --help is handled before the root check and before any change
    const r = spawnSync('bash', [INSTALL, '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('--enable <node>');
    expect(r.stdout).toContain('/etc/greetwatch/<node>.bootstrap.yaml');
  });
});
