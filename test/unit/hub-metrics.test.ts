import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../contract/index.ts';
import { MAX_COUNTED_NODES, Metrics, OTHER_NODES } from '../../hub/metrics.ts';

// Reject counters stay bounded whatever ids a client makes up (README "Security").

describe('reject counters', () => {
  it('count per node and reason up to a fixed number of nodes, then in one other bucket', () => {
    const m = new Metrics();
    for (let i = 0; i < 10_000; i++) m.reject(`made-up-${i}`, ErrorCodes.UNKNOWN_NODE);
    m.reject('made-up-0', ErrorCodes.EVENT_JSON);
    expect(m.rejected.size).toBe(MAX_COUNTED_NODES + 1);
    expect(m.rejectedFor('made-up-0')).toEqual({ GW_ERR_UNKNOWN_NODE: 1, GW_ERR_EVENT_JSON: 1 });
    expect(m.rejectedFor(OTHER_NODES)).toEqual({ GW_ERR_UNKNOWN_NODE: 10_000 - MAX_COUNTED_NODES });
  });
});
