import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { mqttGuard, type GuardOptions, type MqttGuard } from '../../hub/mqtt-guard.ts';
import { waitFor } from '../helpers/wait.ts';

// The guard in front of the broker, over real loopback sockets.

let server: net.Server | undefined;
const sockets: net.Socket[] = [];

async function listen(
  opts: Partial<GuardOptions>,
  now?: () => number,
  onStream?: (s: import('node:stream').Duplex) => void,
): Promise<{ guard: MqttGuard; port: number; received: Buffer[] }> {
  const guard = mqttGuard(opts, undefined, now);
  const received: Buffer[] = [];
  server = net.createServer((socket) => {
    const s = guard.accept(socket);
    s?.on('data', (d: Buffer) => received.push(d));
    s?.on('error', () => undefined);
    if (s) onStream?.(s);
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { guard, port: (server.address() as net.AddressInfo).port, received };
}

const dial = (port: number) =>
  new Promise<net.Socket>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', () => undefined);
    sockets.push(s);
  });
const closed = (s: net.Socket) => new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r())));

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

describe('mqtt guard', () => {
  it('passes packets through, split across chunks however they come', async () => {
    const { port, received } = await listen({});
    const s = await dial(port);
    // PINGREQ, then a PUBLISH of 200 bytes whose length header is split from its body
    s.write(Buffer.from([0xc0, 0x00, 0x30]));
    s.write(Buffer.from([0xc8, 0x01]));
    s.write(Buffer.alloc(200, 1));
    await waitFor(() => Buffer.concat(received).length === 205, 'all bytes through');
    expect(s.destroyed).toBe(false);
  });

  it('a packet claiming 250 MB ends the connection at its header, before any payload', async () => {
    const { guard, port, received } = await listen({ maxPacketBytes: 64 * 1024 });
    const s = await dial(port);
    s.write(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x77])); // remaining length ≈ 250 MB
    await closed(s);
    expect(guard.stats().refused).toEqual({ 'packet-too-large': 1 });
    expect(received).toEqual([]);
  });

  it('a remaining length longer than four bytes is malformed', async () => {
    const { guard, port } = await listen({ maxPacketBytes: 2 ** 30 });
    const s = await dial(port);
    s.write(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01]));
    await closed(s);
    expect(guard.stats().refused).toEqual({ 'malformed-header': 1 });
  });

  it('limits connections per address and in total, and frees a place when one closes', async () => {
    const { guard, port } = await listen({ maxPerAddress: 3, maxConnections: 100 });
    const first = await Promise.all([dial(port), dial(port), dial(port)]);
    await waitFor(() => guard.stats().open === 3, 'three open');
    const fourth = await dial(port);
    await closed(fourth);
    expect(guard.stats().refused).toEqual({ 'too-many-from-address': 1 });
    first[0].destroy();
    await waitFor(() => guard.stats().open === 2, 'one freed');
    const again = await dial(port);
    await waitFor(() => guard.stats().open === 3, 'a new one let in');
    expect(again.destroyed).toBe(false);
  });

  it('limits new connections per address per minute', async () => {
    let t = Date.parse('2026-12-01T10:00:10Z');
    const { guard, port } = await listen({ connectsPerMinute: 5, maxPerAddress: 100 }, () => t);
    for (let i = 0; i < 5; i++) (await dial(port)).destroy();
    const sixth = await dial(port);
    await closed(sixth);
    expect(guard.stats().refused['connect-rate']).toBe(1);
    t += 60_000; // the next minute: welcome again
    const next = await dial(port);
    await waitFor(() => guard.stats().open >= 1, 'let in next minute');
    expect(next.destroyed).toBe(false);
  });

  it('a client that stops reading is dropped once its unread output passes the limit', async () => {
    const chunk = Buffer.alloc(64 * 1024, 7);
    let pump: NodeJS.Timeout | undefined;
    const { guard, port } = await listen({ maxWriteBuffer: 256 * 1024 }, undefined, (s) => {
      // the broker keeps forwarding messages to a subscriber that never reads them
      pump = setInterval(() => {
        if (!s.destroyed) s.write(chunk);
      }, 1);
    });
    const s = await dial(port);
    s.pause();
    await waitFor(() => guard.stats().refused['slow-reader'] === 1, 'the slow reader dropped', 30_000);
    clearInterval(pump);
    // the connection is released once its destroyed socket has closed, a turn or more later
    await waitFor(() => guard.stats().open === 0, 'the slow reader no longer counted as open', 10_000);
    expect(guard.stats().refused['slow-reader']).toBe(1);
  }, 40_000);
});
