import type { Logger } from 'pino';

// Refusals come in floods when something is wrong (a misconfigured node retrying every
// second, someone scanning the LAN): one line per key and window, with how many were
// folded into it, keeps the log readable and its size bounded. Keys are bounded too.

const MAX_KEYS = 1024;

export function rateLimitedLog(log: Pick<Logger, 'warn'>, windowMs: number, now: () => number = Date.now) {
  const last = new Map<string, { at: number; folded: number }>();
  return (key: string, fields: Record<string, unknown>, msg: string): void => {
    const t = now();
    const seen = last.get(key);
    if (seen && t - seen.at < windowMs) {
      seen.folded++;
      return;
    }
    if (!seen && last.size >= MAX_KEYS) last.delete(last.keys().next().value!);
    last.set(key, { at: t, folded: 0 });
    log.warn({ ...fields, ...(seen?.folded ? { alsoSince: seen.folded } : {}) }, msg);
  };
}
