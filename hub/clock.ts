/** Time source, injected so tests can drive time (brief: hardware and time behind small interfaces). */
export interface Clock {
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };
