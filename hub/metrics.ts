import type { ErrorCode } from '../contract/index.ts';

/** Counters of bad input, per node and reason (CONTRACT.md: rejected, counted per node and reason). */
export class Metrics {
  readonly rejected = new Map<string, Map<string, number>>();
  reject(node: string | null, code: ErrorCode): void {
    const key = node ?? '(unknown)';
    let m = this.rejected.get(key);
    if (!m) this.rejected.set(key, (m = new Map()));
    m.set(code, (m.get(code) ?? 0) + 1);
  }
  rejectedFor(node: string): Record<string, number> {
    return Object.fromEntries(this.rejected.get(node) ?? []);
  }
}
