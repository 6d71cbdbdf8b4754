// A burst (50 nodes flushing their outboxes after an outage) brings thousands of publishes in
// one turn of the event loop, and handling them all at once held the loop for 150 ms and more:
// no timer, screen, journal completion or /healthz ran meanwhile (README "Benchmarks").
// Work that goes through here runs at once while the current stretch of synchronous work is
// within its budget; past it, it waits for a later turn (setImmediate, after the loop has
// polled its sockets and files again), in the order it came. Each deferred turn runs at
// least one task, so a zero budget still makes progress.

import { performance } from 'node:perf_hooks';

export interface TurnBudget {
  /** runs `task` now, or after what is already waiting once the loop has had a turn */
  run(task: () => void): void;
  stats(): TurnBudgetStats;
}

export interface TurnBudgetStats {
  /** tasks that waited for a later turn */
  deferred: number;
  /** tasks waiting now */
  waiting: number;
  /** turns of the loop given up by a stretch over budget */
  yields: number;
}

export interface TurnBudgetOptions {
  /** ms of synchronous work a stretch may take before tasks wait for the next turn */
  budgetMs: number;
  /** a monotonic clock in ms (performance.now by default) */
  now?: () => number;
  /** ms the event loop has spent waiting, since any fixed start (performance.eventLoopUtilization by default) */
  idle?: () => number;
  /** how a later turn is asked for (setImmediate by default) */
  later?: (fn: () => void) => void;
  /** a task that waited and then threw (one that runs at once throws to its caller); the rest still run */
  onError: (err: unknown) => void;
}

export function turnBudget(opts: TurnBudgetOptions): TurnBudget {
  const now = opts.now ?? (() => performance.now());
  const later = opts.later ?? ((fn: () => void) => void setImmediate(fn));
  const idle = opts.idle ?? (() => performance.eventLoopUtilization().idle);
  const budget = opts.budgetMs;
  /** when the current stretch began; NaN when none is under way */
  let since = NaN;
  /** the loop's idle time when the stretch began: a stretch begun outside the poll phase (a timer) may have waited in it since */
  let idleSince = 0;
  let queue: (() => void)[] = [];
  let head = 0;
  let draining = false;
  const stats = { deferred: 0, yields: 0 };

  // the stretch ends when the loop reaches its check phase: the next poll starts a new one
  const endStretch = () => {
    since = NaN;
  };

  const drain = () => {
    since = now();
    do {
      const task = queue[head]!;
      queue[head++] = noop; // let the task's closure go as it runs
      try {
        task();
      } catch (err) {
        opts.onError(err);
      }
    } while (head < queue.length && now() - since < budget);
    if (head < queue.length) {
      // under a load that never lets it empty, drop the run front once it is most of the array
      if (head >= 4096 && head * 2 >= queue.length) {
        queue = queue.slice(head);
        head = 0;
      }
      stats.yields++;
      later(drain);
      return;
    }
    queue = [];
    head = 0;
    draining = false;
    since = NaN;
  };

  return {
    run(task) {
      if (draining) {
        // behind what waits: the order tasks came in is the order they run
        queue.push(task);
        stats.deferred++;
        return;
      }
      const t = now();
      if (Number.isNaN(since)) {
        since = t;
        idleSince = idle();
        later(endStretch);
      } else if (t - since >= budget) {
        const waited = idle();
        if (waited !== idleSince) {
          // the loop has waited for I/O since the stretch began (begun by a timer, say): a new one
          since = t;
          idleSince = waited;
        } else {
          queue.push(task);
          stats.deferred++;
          stats.yields++;
          draining = true;
          later(drain);
          return;
        }
      }
      task();
    },
    stats: () => ({ deferred: stats.deferred, waiting: queue.length - head, yields: stats.yields }),
  };
}

const noop = () => undefined;
