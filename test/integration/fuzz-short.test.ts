import { describe, expect, it } from 'vitest';
import { formatReport, runFuzz } from '../helpers/fuzz.ts';

// The short run of `npm run fuzz` (bench/fuzz.ts, same code in test/helpers/fuzz.ts): a real
// hub in a child process, 20,000 packets at the MQTT listener, 20,000 malformed payloads from
// a logged-in node, 2,000 bad HTTP requests, then the default guard on a second hub.
// FUZZ_SEED=<n> reruns a given seed; the seed is printed with the figures.

const seed = Number(process.env.FUZZ_SEED ?? 20261201);

describe('fuzz (short)', () => {
  it(`survives packets, payloads and HTTP requests, and counts every reject (seed ${seed})`, async () => {
    const report = await runFuzz({ seed, packets: 20_000, payloads: 20_000, http: 2_000, phaseSeconds: 60 });
    console.log(formatReport(report));

    const failed = report.checks.filter((c) => !c.ok);
    expect(failed, 'every check of the run').toEqual([]);

    // the hub is up and answers after each phase, and the real node's event is accepted each time
    expect(report.phases.map((p) => p.name)).toEqual(['packets', 'payloads', 'http']);
    for (const p of report.phases) {
      expect(p.alive, `${p.name}: hub alive`).toBe(true);
      expect(p.healthzAfter, `${p.name}: /healthz`).toBe(true);
      expect(p.probe.ok, `${p.name}: probe event accepted (${p.probe.detail})`).toBe(true);
    }
    expect(report.guard?.held, 'the default guard held').toBe(true);
    expect(report.guard?.probe.ok, 'probe accepted behind the default guard').toBe(true);
    expect(report.faults).toEqual([]);

    // the counts balance: each malformed payload rejected once, each valid one accepted once
    const f = report.payloads!;
    expect(f.confirmed).toBe(f.sent);
    expect(f.rejectedTotal).toBe(f.bad);
    expect(f.accepted).toBe(f.good);
    expect(f.badAccepted).toEqual({});

    // A memory bound, not a timed assertion. The hub starts at ~120-130 MB (tsx, fastify, aedes, the
    // bundled dashboard). After the run it holds more that is not a leak: V8 keeps the heap it grew
    // under load, malloc keeps the arenas of up to four concurrent scrypt checks (32 MiB each, the
    // login cost), and the engine remembers the accepted events' ids for its 24 h de-duplication.
    // Three times the start leaves room for all of that on any machine, while a leak that scales
    // with the input (the run sends over 1 GB of packets and payloads) would go far past it.
    expect(report.end.rssMB).toBeLessThan(report.start.rssMB * 3);
  }, 180_000);
});
