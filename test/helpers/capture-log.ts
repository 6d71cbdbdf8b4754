import { pino, type Logger } from 'pino';

/** a pino logger whose JSON lines a test can read */
export function captureLog(level = 'debug'): { log: Logger; lines: () => Array<Record<string, unknown>> } {
  const raw: string[] = [];
  const log = pino({ level }, { write: (s: string) => void raw.push(s) });
  return { log, lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>) };
}
