import crypto from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import type { LiveDelta, LiveSnapshot } from '../contract/index.ts';

// What each system's screen receives, read the way a screen reads it, to time entry → screen:
// greetwatch's live stream (SSE: `live` snapshots, `change` deltas) and the peer's websocket.

export interface Screen {
  /** messages by kind (e.g. live, change, ws) */
  readonly kinds: Map<string, number>;
  close(): void;
}

/** Calls `seen(party)` for every party that appears as open (a `change` of kind open, or in a snapshot's `open`). */
export function sseScreen(url: string, seen: (party: string) => void, headers: Record<string, string> = {}): Promise<Screen> {
  return new Promise((resolve, reject) => {
    const kinds = new Map<string, number>();
    const req = http.get(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return reject(new Error(`${url}: HTTP ${res.statusCode}`));
      }
      res.setEncoding('utf8');
      let buf = '';
      res.on('data', (chunk: string) => {
        buf += chunk;
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
          }
          kinds.set(event, (kinds.get(event) ?? 0) + 1);
          if (!data.length) continue;
          try {
            if (event === 'live') for (const p of (JSON.parse(data.join('\n')) as LiveSnapshot).open) seen(p.party);
            else if (event === 'change') for (const ch of (JSON.parse(data.join('\n')) as LiveDelta).changes) if (ch.kind === 'open') seen(ch.party.party);
          } catch {
            kinds.set('unparsed', (kinds.get('unparsed') ?? 0) + 1);
          }
        }
      });
      resolve({ kinds, close: () => req.destroy() });
    });
    req.on('error', (err) => reject(err));
  });
}

/**
 * A minimal websocket client (RFC 6455: handshake, unmasked server text frames, masked pong):
 * Node 20 has no WebSocket without a flag, and the bench adds no dependency for it.
 * Calls `onText` per text message.
 */
export function wsScreen(url: string, onText: (text: string) => void): Promise<Screen> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const key = crypto.randomBytes(16).toString('base64');
    const kinds = new Map<string, number>();
    const req = http.request({
      host: u.hostname,
      port: Number(u.port),
      path: u.pathname,
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': key, 'sec-websocket-version': '13' },
    });
    req.on('response', (res) => {
      res.resume();
      reject(new Error(`${url}: HTTP ${res.statusCode} instead of a websocket`));
    });
    req.on('error', reject);
    req.on('upgrade', (_res, socket: net.Socket, head: Buffer) => {
      let buf = head;
      let parts: Buffer[] = [];
      const frame = (opcode: number, payload: Buffer) => {
        const mask = crypto.randomBytes(4);
        const body = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
        socket.write(Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | body.length]), mask, body]));
      };
      const parse = () => {
        for (;;) {
          if (buf.length < 2) return;
          const fin = (buf[0]! & 0x80) !== 0;
          const opcode = buf[0]! & 0x0f;
          let len = buf[1]! & 0x7f;
          let off = 2;
          if (len === 126) {
            if (buf.length < 4) return;
            len = buf.readUInt16BE(2);
            off = 4;
          } else if (len === 127) {
            if (buf.length < 10) return;
            len = Number(buf.readBigUInt64BE(2));
            off = 10;
          }
          if (buf.length < off + len) return;
          const payload = buf.subarray(off, off + len);
          buf = buf.subarray(off + len);
          if (opcode === 0x9) frame(0xa, payload.subarray(0, 125));
          else if (opcode === 0x8) socket.end();
          else if (opcode === 0x1 || opcode === 0x0) {
            parts.push(Buffer.from(payload));
            if (fin) {
              kinds.set('ws', (kinds.get('ws') ?? 0) + 1);
              onText(Buffer.concat(parts).toString('utf8'));
              parts = [];
            }
          }
        }
      };
      socket.on('data', (d: Buffer) => {
        buf = buf.length ? Buffer.concat([buf, d]) : d;
        parse();
      });
      socket.on('error', () => undefined);
      parse();
      resolve({ kinds, close: () => socket.destroy() });
    });
    req.end();
  });
}
