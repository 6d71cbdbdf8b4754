import { describe, it, type ExpectStatic } from 'vitest';
import { SHORT_SCALE, hasPrlimit, hubKill, linkCut, traceFull, traceShortWrite, type ChaosResult } from '../helpers/chaos.ts';

// The short CI version of `npm run chaos` (bench/chaos.ts; the scenarios are in
// test/helpers/chaos.ts): a real hub and simulated nodes on 127.0.0.1, a fault while traffic
// flows, then README "Reliability" and CONTRACT.md "Replay" checked end to end: no seq of any
// bootid missing from the hub's trace, no event counted twice, and the hub's /report equal to
// `greetwatch replay` of its own trace. Small rates and short phases; the scenarios are
// independent (own temp dir, ports, processes), so they run side by side.

function expectClean(expect: ExpectStatic, r: ChaosResult): void {
  const why = [...r.diff, ...r.problems, ...r.notes].join('\n');
  expect(r.built, `nothing was sent: ${why}`).toBeGreaterThan(5);
  expect(r.lost, why).toBe(0);
  expect(r.doubled, why).toBe(0);
  expect(r.traced, why).toBe(r.built);
  expect(r.diff, why).toEqual([]);
  expect(r.problems, why).toEqual([]);
}

describe.concurrent('chaos, short', () => {
  it('the hub SIGKILLed under load and restarted on its data dir: nothing lost or doubled, report == replay', async ({ expect }) => {
    expectClean(expect, await hubKill(SHORT_SCALE));
  }, 120_000);

  it('the link between the nodes and the hub cut and restored: nothing lost or doubled, report == replay', async ({ expect }) => {
    expectClean(expect, await linkCut(SHORT_SCALE));
  }, 120_000);

  it('trace writes failing (disk full, as the recorder reports it): the nodes keep their events, nothing lost after', async ({ expect }) => {
    expectClean(expect, await traceFull(SHORT_SCALE));
  }, 120_000);

  // A real full disk, not a wrapped recorder: the hub process runs under RLIMIT_FSIZE (prlimit),
  // so the kernel cuts the write that reaches the limit short and refuses the next ones (EFBIG),
  // as a full disk does. This scenario found the recorder acknowledging such a short write (its
  // bytesWritten ignored: torn line, the next line glued onto it, acknowledged events missing
  // from the trace and /report ≠ replay); fixed in eb2d9e0 (the rest is written or the file is
  // cut back). Kept as the regression check.
  // skipped only where util-linux's prlimit is missing: it sets the hub's file-size limit (a full disk)
  (hasPrlimit() ? it : it.skip)('the trace disk really full (short writes, EFBIG): nothing lost or torn, report == replay', async ({ expect }) => {
    expectClean(expect, await traceShortWrite(SHORT_SCALE));
  }, 120_000);
});
