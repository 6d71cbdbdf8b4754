// Settings that become timers or date arithmetic have a maximum (firmware-config/schema.ts): a
// timer over 2^31 ms fires after 1 ms (a status every millisecond), and `hub.traceDays: 1e9`
// made the trace recorder throw a RangeError when a new day began. Refused at their position.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../firmware-config/load.ts';
import { configRefusal } from '../helpers/store-config.ts';

const base = `store:
  id: s1
nodes:
  - id: door-1
    board: pi4
    statusEveryS: STATUS
    sensors:
      - { id: beam, kind: door, pin: 17, debounceMs: DEBOUNCE }
hub:
  traceDays: TRACE
  influx: { healthEveryS: HEALTH }
`;
const fill = (v: Partial<Record<'STATUS' | 'DEBOUNCE' | 'TRACE' | 'HEALTH', string>>) =>
  base.replace('STATUS', v.STATUS ?? '60').replace('DEBOUNCE', v.DEBOUNCE ?? '30').replace('TRACE', v.TRACE ?? '90').replace('HEALTH', v.HEALTH ?? '60');
const refusal = (text: string): string => configRefusal(text, 'bounds.yaml');

describe('config: timer and retention settings have a maximum', () => {
  it('takes the defaults', () => {
    expect(parseConfig(fill({}), 'bounds.yaml').hub.traceDays).toBe(90);
  });
  it.each([
    ['STATUS', '2147484', /^bounds\.yaml:6:19 nodes\[0\]\.statusEveryS: must be at most 86400, got 2147484$/m],
    ['DEBOUNCE', '10000000000', /^bounds\.yaml:8:54 nodes\[0\]\.sensors\[0\]\.debounceMs: must be at most 3600000, got 10000000000$/m],
    ['TRACE', '1000000000', /^bounds\.yaml:10:14 hub\.traceDays: must be at most 36500, got 1000000000$/m],
    ['HEALTH', '2147484', /^bounds\.yaml:11:27 hub\.influx\.healthEveryS: must be at most 86400, got 2147484$/m],
  ] as const)('refuses %s = %s at its position', (key, value, message) => {
    expect(refusal(fill({ [key]: value }))).toMatch(message);
  });
});
