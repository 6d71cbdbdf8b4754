import { runMain, runNodes, NODE_USAGE } from '../edge/main.ts';
import { simDriver } from '../edge/drivers/sim.ts';
import { createStoreSimulator } from './shopper-sim.ts';

// A node on a laptop: the store config's nodes with `driver: sim` inputs, driven by
// simulated shoppers (crossings, greets, staff passes, steps-line walks), against any broker.
//   npx tsx scripts/sim-node.ts --config firmware-config/examples/demo-store.yaml --all --mqtt mqtt://127.0.0.1:1883

const USAGE = `${NODE_USAGE.replace('greetwatch node', 'npx tsx scripts/sim-node.ts')}
  --rate <n>          simulated customer parties per hour (default 60)
  --seed <n>          simulator RNG seed (default: random)`;

function numberArg(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== 'string' || !Number.isFinite(n) || n < 0) {
    throw new Error(`--${name}: expected a non-negative number, got ${JSON.stringify(value)}`);
  }
  return n;
}


runMain(
  () =>
    runNodes(process.argv.slice(2), {
      usage: USAGE,
      extra: { rate: { type: 'string' }, seed: { type: 'string' } },
      io: () => simDriver(),
      afterStart: ({ agents, cfg, values, log }) => {
        const rate = numberArg('rate', values.rate);
        const seed = numberArg('seed', values.seed);
        const sim = createStoreSimulator({
          agents,
          stepsLineZones: cfg.rules.stepsLineZones,
          ...(rate !== undefined ? { arrivalsPerHour: rate } : {}),
          seed: seed ?? Math.floor(Math.random() * 2 ** 31),
          log,
        });
        sim.start();
        return sim;
      },
    }),
  USAGE,
);
