import http from 'node:http';

// A raw HTTP client for the live stream (README "Live stream"): it parses the SSE frames
// itself, so tests see exactly what the hub wrote (events, data, `:` comments), in order.

export interface SseMessage {
  /** `live`, `change`, … (`message` when the frame names none) */
  event: string;
  data: string;
}

export interface SseClient {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  /** every message so far, in order */
  readonly messages: SseMessage[];
  /** every comment line so far (`: ping` → `ping`) */
  readonly comments: string[];
  /** the hub ended or cut the stream */
  readonly ended: boolean;
  /** messages of one event type, data parsed as JSON */
  of<T>(event: string): T[];
  close(): void;
}

/** `localAddress`: the client's own address (another 127.0.0.x is another client to the hub) */
export function openSse(url: string, headers: Record<string, string> = {}, localAddress?: string): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { accept: 'text/event-stream', ...headers }, ...(localAddress ? { localAddress } : {}) }, (res) => {
      const messages: SseMessage[] = [];
      const comments: string[] = [];
      let ended = false;
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of frame.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim());
            else if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length) messages.push({ event, data: data.join('\n') });
        }
      });
      const end = () => (ended = true);
      res.on('end', end);
      res.on('close', end);
      res.on('error', end);
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        messages,
        comments,
        get ended() {
          return ended;
        },
        of<T>(event: string): T[] {
          return messages.filter((m) => m.event === event).map((m) => JSON.parse(m.data) as T);
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
  });
}
