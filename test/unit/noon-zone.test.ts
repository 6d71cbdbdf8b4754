import { describe, expect, it } from 'vitest';
import { TimeZone } from '../../hub/engine/tz.ts';
import { noonZone } from '../helpers/noon-zone.ts';

// The helper that keeps real-clock tests away from their store's midnight (test/helpers/noon-zone.ts):
// its Etc/GMT signs are the POSIX ones, easy to get backwards.
describe('noonZone', () => {
  it('puts every hour of a UTC day at noon, at least ten hours from either midnight', () => {
    for (let h = 0; h < 24; h++) {
      for (const min of [0, 59]) {
        const ms = Date.UTC(2026, 11, 1, h, min, 30);
        const tz = new TimeZone(noonZone(ms));
        const intoDay = ms - tz.startOfDay(ms);
        expect(intoDay, `${h}:${min} UTC in ${noonZone(ms)}`).toBeGreaterThanOrEqual(10 * 3_600_000);
        expect(24 * 3_600_000 - intoDay).toBeGreaterThanOrEqual(10 * 3_600_000);
      }
    }
  });
});
