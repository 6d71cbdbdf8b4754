import { describe, expect, it } from 'vitest';
import type { HubPlugin } from '../../hub/context.ts';
import { startOrder } from '../../hub/hub.ts';

// Hub plugins start after what they declare they need (README "How it fits together").

const plugin = (name: string, needs: string[] = []): HubPlugin => ({ name, needs, start: () => Promise.resolve(), stop: () => Promise.resolve() });

describe('plugin start order', () => {
  it('starts each plugin after what it needs, keeping the listed order otherwise', () => {
    const order = startOrder([plugin('http', ['live-engine']), plugin('broker', ['ingest', 'live-engine']), plugin('ingest', ['live-engine']), plugin('live-engine'), plugin('node-io', ['broker'])]);
    expect(order.map((p) => p.name)).toEqual(['live-engine', 'http', 'ingest', 'broker', 'node-io']);
  });

  it('names a missing or circular need', () => {
    expect(() => startOrder([plugin('a', ['b'])])).toThrow('hub plugin a needs b, which is not in the hub');
    expect(() => startOrder([plugin('a', ['b']), plugin('b', ['a'])])).toThrow('hub plugins need each other in a circle: a → b → a');
  });
});
