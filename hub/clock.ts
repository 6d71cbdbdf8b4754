// The hub's time source is the one Clock of contract/clock.ts, shared with the edge.
export { systemClock, type Clock } from '../contract/clock.ts';
