import net from 'node:net';

// A link the test controls between clients and a server on 127.0.0.1 (chaos scenario "link
// cut"): every accepted connection gets its own upstream connection and bytes flow both ways
// unchanged. cut() is a broken link as a node sees it: every open connection is reset and new
// ones are reset as soon as they are accepted, so the client retries; restore() lets them
// through again. The port stays the same throughout, so clients keep their URL.

export interface TcpProxyStats {
  /** connections accepted and forwarded */
  forwarded: number;
  /** connections reset on accept while cut */
  refused: number;
  /** connections reset by cut() */
  cut: number;
  /** connections open now */
  open: number;
}

export interface TcpProxy {
  readonly host: string;
  readonly port: number;
  /** `scheme://host:port` (an IPv6 host in brackets), e.g. url('mqtt') */
  url(scheme: string): string;
  /** resets every open connection and every new one until restore() */
  cut(): void;
  restore(): void;
  readonly isCut: boolean;
  stats(): TcpProxyStats;
  close(): Promise<void>;
}

/** a reset (RST), not a polite FIN: what a node sees when the Wi-Fi link dies under it */
const reset = (s: net.Socket): void => {
  if (s.destroyed) return;
  // resetAndDestroy throws on a socket that is not connected yet (the upstream dial in flight)
  if (s.readyState === 'open') s.resetAndDestroy();
  else s.destroy();
};

/** `host`: where the proxy listens (default 127.0.0.1; '::1' puts a server on 127.0.0.1 behind an IPv6 address) */
export async function startTcpProxy(target: { host?: string; port: number }, opts: { port?: number; host?: string } = {}): Promise<TcpProxy> {
  const host = opts.host ?? '127.0.0.1';
  const upstreamHost = target.host ?? '127.0.0.1';
  let isCut = false;
  const pairs = new Set<[net.Socket, net.Socket]>();
  const stats = { forwarded: 0, refused: 0, cut: 0 };

  const server = net.createServer((client) => {
    // a socket reset by us still emits 'error' (ECONNRESET, EPIPE): expected here, never fatal
    client.on('error', () => undefined);
    if (isCut) {
      stats.refused++;
      reset(client);
      return;
    }
    stats.forwarded++;
    const upstream = net.connect({ host: upstreamHost, port: target.port });
    upstream.on('error', () => undefined);
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    // either side gone: the other goes too (a half-open link would hide a dead hub from the node)
    const drop = () => {
      if (!pairs.delete(pair)) return;
      reset(client);
      reset(upstream);
    };
    client.once('close', drop);
    upstream.once('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;

  return {
    host,
    port,
    url: (scheme) => `${scheme}://${net.isIPv6(host) ? `[${host}]` : host}:${port}`,
    cut() {
      isCut = true;
      for (const pair of [...pairs]) {
        pairs.delete(pair);
        stats.cut++;
        reset(pair[0]);
        reset(pair[1]);
      }
    },
    restore() {
      isCut = false;
    },
    get isCut() {
      return isCut;
    },
    stats: () => ({ ...stats, open: pairs.size }),
    async close() {
      isCut = true;
      for (const [a, b] of pairs) {
        reset(a);
        reset(b);
      }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
