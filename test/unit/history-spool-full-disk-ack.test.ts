// A spool that has filled its disk (README "History"): once InfluxDB has taken everything, the
// ack must free the disk. Its cursor file (ack.json.tmp + rename) needs a free block too, so
// segments wholly under the acked id are deleted first (safe: after a restart on the old
// cursor what is left is written again, idempotently), then the cursor is written.
// The "disk" is a few 512-byte blocks under the spool folder, enforced by an injected SpoolFs
// whose write() takes what fits (a short count) and then fails with ENOSPC, as write(2) does.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nodeSpoolFs, openSpool, type SpoolFile, type SpoolFs } from '../../hub/history/spool.ts';

/** a disk of `blocks` blocks of 512 bytes: a file takes whole blocks, so a new file needs a free one */
function smallDisk(dir: string, blocks: number): SpoolFs {
  const B = 512;
  const base = nodeSpoolFs();
  const sizeOf = (f: string): number => {
    try {
      return fs.statSync(f).size;
    } catch {
      return 0;
    }
  };
  const freeBytes = (): number => {
    let used = 0;
    for (const f of fs.readdirSync(dir)) {
      const st = fs.statSync(path.join(dir, f));
      if (st.isFile()) used += Math.ceil(st.size / B);
    }
    return (blocks - used) * B;
  };
  const wrap = (file: string, h: SpoolFile): SpoolFile => ({
    async write(buf, off, len) {
      const size = sizeOf(file);
      const room = freeBytes() + (Math.ceil(size / B) * B - size); // free blocks + the slack of its last block
      if (room <= 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      return h.write(buf, off, Math.min(len, room));
    },
    datasync: () => h.datasync(),
    sync: () => h.sync(),
    truncate: (n) => h.truncate(n),
    close: () => h.close(),
  });
  return { ...base, open: async (file, flags) => wrap(file, await base.open(file, flags)) };
}

const point = (i: number) => `visit,store=s1 party="p${String(i).padStart(6, '0')}",size=1i 17000000000${String(i).padStart(8, '0')}`;

describe('history spool on a full disk', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-spool-full-'));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('once InfluxDB has taken everything, acked segments are deleted and appends work again', async () => {
    const dir = path.join(tmp, 'spool');
    fs.mkdirSync(dir);
    const s = await openSpool({ dir, segmentBytes: 1000, log: pino({ level: 'silent' }), fs: smallDisk(dir, 12) });
    try {
      // InfluxDB is down: the spool grows until the disk is full
      let last = 0;
      for (let i = 0; ; i++) {
        const r = await s.append([point(i)]).catch(() => null);
        if (r === null) break;
        last = r.id;
      }
      // and then full to the last byte: even the shortest record no longer fits
      for (;;) {
        const r = await s.append(['x']).catch(() => null);
        if (r === null) break;
        last = r.id;
      }
      expect(s.stats().segments).toBeGreaterThan(3);

      // InfluxDB is back and has every record: the drain acks them all
      const ackErr = await s.ack(last).then(
        () => null,
        (e: unknown) => (e as Error).message,
      );
      // what is acked must be able to leave the disk, or the spool never recovers
      expect({ ackErr, segments: s.stats().segments }).toEqual({ ackErr: null, segments: 1 });
      await expect(s.append([point(999_999)])).resolves.toMatchObject({ lines: [point(999_999)] });
    } finally {
      await s.close().catch(() => undefined);
    }
  });
});
