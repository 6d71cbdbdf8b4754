import type net from 'node:net';
import { Duplex } from 'node:stream';

// What stands between a TCP connection and the broker (README "Security"), so a client on
// the store Wi-Fi cannot exhaust the hub:
// - connections in total and per address, and new connections per address per minute;
// - the size an MQTT packet claims, read from its fixed header as the bytes arrive: a packet
//   claiming more than `maxPacketBytes` ends the connection before its payload is buffered
//   (at most the one chunk that carried the header is ever held);
// - a client that stops reading: once `maxWriteBuffer` bytes wait in its socket it is
//   dropped, never buffered without bound.
// Everything here is counted; its memory is bounded by the connection limits.

export interface GuardOptions {
  maxPacketBytes: number;
  maxConnections: number;
  maxPerAddress: number;
  connectsPerMinute: number;
  maxWriteBuffer: number;
}

export const DEFAULT_GUARD: GuardOptions = {
  maxPacketBytes: 64 * 1024,
  maxConnections: 512,
  maxPerAddress: 32,
  connectsPerMinute: 120,
  maxWriteBuffer: 1024 * 1024,
};

export type GuardRefusal = 'too-many-connections' | 'too-many-from-address' | 'connect-rate' | 'packet-too-large' | 'malformed-header' | 'slow-reader';

export interface MqttGuard {
  /** the stream to hand to aedes, or null when the connection was refused (and destroyed) */
  accept(socket: net.Socket): Duplex | null;
  stats(): { open: number; refused: Record<string, number> };
}

/** Tracks MQTT fixed headers across chunks: type byte, then a 1–4 byte remaining length, then that many bytes. */
function headerScanner(maxPacketBytes: number): (chunk: Buffer) => GuardRefusal | null {
  let state: 'type' | 'len' | 'body' = 'type';
  let len = 0;
  let mult = 1;
  let lenBytes = 0;
  let skip = 0;
  return (chunk) => {
    let i = 0;
    while (i < chunk.length) {
      if (state === 'body') {
        const n = Math.min(skip, chunk.length - i);
        skip -= n;
        i += n;
        if (skip === 0) state = 'type';
        continue;
      }
      const b = chunk[i++]!;
      if (state === 'type') {
        state = 'len';
        len = 0;
        mult = 1;
        lenBytes = 0;
        continue;
      }
      len += (b & 0x7f) * mult;
      mult *= 128;
      lenBytes++;
      if (len > maxPacketBytes) return 'packet-too-large';
      if (b & 0x80) {
        if (lenBytes === 4) return 'malformed-header';
        continue;
      }
      skip = len;
      state = skip === 0 ? 'type' : 'body';
    }
    return null;
  };
}

export function mqttGuard(
  opts: Partial<GuardOptions> = {},
  onRefuse?: (reason: GuardRefusal, address: string | undefined) => void,
  now: () => number = Date.now,
): MqttGuard {
  const o = { ...DEFAULT_GUARD, ...opts };
  let open = 0;
  const perAddress = new Map<string, number>();
  /** connects in the current minute per address; reset each minute, so it holds at most the addresses of one minute */
  let window = Math.floor(now() / 60_000);
  let recent = new Map<string, number>();
  const refused: Record<string, number> = {};
  const refuse = (reason: GuardRefusal, address: string | undefined): void => {
    refused[reason] = (refused[reason] ?? 0) + 1;
    onRefuse?.(reason, address);
  };

  return {
    accept(socket) {
      const address = socket.remoteAddress ?? '?';
      const minute = Math.floor(now() / 60_000);
      if (minute !== window) {
        window = minute;
        recent = new Map();
      }
      const rate = (recent.get(address) ?? 0) + 1;
      if (rate <= o.connectsPerMinute + 1) recent.set(address, rate);
      const why: GuardRefusal | null =
        open >= o.maxConnections ? 'too-many-connections' : (perAddress.get(address) ?? 0) >= o.maxPerAddress ? 'too-many-from-address' : rate > o.connectsPerMinute ? 'connect-rate' : null;
      if (why) {
        refuse(why, address);
        socket.destroy();
        return null;
      }
      open++;
      perAddress.set(address, (perAddress.get(address) ?? 0) + 1);
      let counted = true;
      const release = (): void => {
        if (!counted) return;
        counted = false;
        open--;
        const n = (perAddress.get(address) ?? 1) - 1;
        if (n <= 0) perAddress.delete(address);
        else perAddress.set(address, n);
      };

      const scan = headerScanner(o.maxPacketBytes);
      // the acknowledgements of one journal commit go out in one write per client, not one each
      let corked = false;
      const uncork = () => {
        corked = false;
        socket.uncork();
      };
      const stream = new Duplex({
        read() {
          socket.resume();
        },
        write(chunk: Buffer, _enc, cb) {
          if (!corked) {
            corked = true;
            socket.cork();
            process.nextTick(uncork);
          }
          // what a client has not read waits in its socket, where it is measured; past the
          // limit the client is dropped (so the broker's writes never wait for it)
          socket.write(chunk);
          if (socket.writableLength > o.maxWriteBuffer) {
            refuse('slow-reader', address);
            socket.destroy();
          }
          cb();
        },
        final(cb) {
          socket.end(cb);
        },
        destroy(err, cb) {
          socket.destroy();
          release();
          cb(err);
        },
      });
      // aedes logs and counts by address; it reads nothing else of the socket
      Object.defineProperty(stream, 'remoteAddress', { value: socket.remoteAddress });
      socket.on('data', (chunk: Buffer) => {
        const bad = scan(chunk);
        if (bad) {
          refuse(bad, address);
          socket.destroy();
          return;
        }
        if (!stream.push(chunk)) socket.pause();
      });
      socket.on('end', () => stream.push(null));
      socket.on('error', () => stream.destroy());
      socket.on('close', () => {
        release();
        stream.destroy();
      });
      return stream;
    },
    stats: () => ({ open, refused: { ...refused } }),
  };
}
