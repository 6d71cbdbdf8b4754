/** Wall-clock time in ms, injected so tests drive time (edge event times, hub receive times). */
export interface Clock {
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };
