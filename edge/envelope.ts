import { randomInt } from 'node:crypto';
import { monotonicFactory } from 'ulid';
import { sourceOf, validateEvent, type EventOf, type EventType } from '../contract/index.ts';
import { EdgeError, EdgeErrorCodes } from './errors.ts';

// Builds CloudEvents exactly as CONTRACT.md "Event envelope" says: specversion 1.0, ULID id
// (unique per source), source /stores/{store}/nodes/{node}, time at the physical edge (ms, UTC),
// bootid random per process start, seq 1, 2, 3 … per bootid with no gaps.

/** What a signal (beam pair, button, door, presence) hands over: type, data and the edge time. */
export type Emit = <T extends EventType>(type: T, data: EventOf<T>['data'], atMs: number) => void;

export interface EnvelopeFactory {
  readonly bootid: string;
  readonly source: string;
  /** Builds and validates the next event. Throws EVENT_BUILD (and uses no seq) if it breaks the contract. */
  build<T extends EventType>(type: T, data: EventOf<T>['data'], atMs: number): EventOf<T>;
  /** seq of the last event built (0 before the first) */
  lastSeq(): number;
}

const BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz';

/** 8 random base36 chars from the crypto RNG: new for every process start (CONTRACT "bootid"). */
export function newBootId(): string {
  let s = '';
  for (let i = 0; i < 8; i++) s += BASE36[randomInt(36)];
  return s;
}

export function createEnvelopeFactory(opts: { store: string; node: string; bootid?: string }): EnvelopeFactory {
  const bootid = opts.bootid ?? newBootId();
  const source = sourceOf(opts.store, opts.node);
  // monotonic: ids built in the same ms still sort in build order
  const nextId = monotonicFactory();
  let seq = 0;
  return {
    bootid,
    source,
    build(type, data, atMs) {
      if (!Number.isFinite(atMs)) {
        throw new EdgeError(EdgeErrorCodes.EVENT_BUILD, `${type} from ${source}: edge time is not a number (${atMs})`);
      }
      const event = {
        specversion: '1.0' as const,
        id: nextId(),
        source,
        type,
        time: new Date(atMs).toISOString(), // always ms precision, 'Z'
        bootid,
        seq: seq + 1,
        datacontenttype: 'application/json' as const,
        data,
      };
      const checked = validateEvent(event, { expect: { store: opts.store, node: opts.node } });
      if (!checked.ok) {
        throw new EdgeError(EdgeErrorCodes.EVENT_BUILD, `${type} from ${source} breaks the contract: ${checked.reason}`);
      }
      seq += 1; // only a valid event takes a seq: no gaps
      return checked.value as EventOf<typeof type>;
    },
    lastSeq: () => seq,
  };
}
