// The deterministic store-day simulator lives in scripts/store-sim.ts, where the demo's
// seeded history (run-time code, which must not import from test/) uses it too.
export * from '../../scripts/store-sim.ts';
