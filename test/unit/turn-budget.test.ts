import { describe, expect, it } from 'vitest';
import { turnBudget } from '../../hub/turn-budget.ts';

// hub/turn-budget.ts on a clock the test moves and a "later" queue the test runs: a turn of
// the event loop is one call of runTurn(), so each check is exact, never timed.
function rig(budgetMs: number) {
  let t = 0;
  let idle = 0;
  const laters: (() => void)[] = [];
  const errors: unknown[] = [];
  const budget = turnBudget({ budgetMs, now: () => t, idle: () => idle, later: (fn) => laters.push(fn), onError: (err) => errors.push(err) });
  const ran: number[] = [];
  /** a task that takes `ms` of the clock */
  const task = (id: number, ms: number) => () => {
    ran.push(id);
    t += ms;
  };
  /** what the loop's check phase does: the callbacks asked for until now, in order */
  const runTurn = () => {
    for (const fn of laters.splice(0)) fn();
  };
  return { budget, task, ran, runTurn, errors, laters, advance: (ms: number) => (t += ms), wait: (ms: number) => ((t += ms), (idle += ms)) };
}

describe('turnBudget', () => {
  it('runs tasks at once while the stretch is within its budget', () => {
    const r = rig(5);
    for (let i = 0; i < 4; i++) r.budget.run(r.task(i, 1));
    expect(r.ran).toEqual([0, 1, 2, 3]);
    expect(r.budget.stats()).toEqual({ deferred: 0, waiting: 0, yields: 0 });
  });

  it('past the budget, the rest waits for later turns, in order, each turn within the budget', () => {
    const r = rig(5);
    for (let i = 0; i < 20; i++) r.budget.run(r.task(i, 1));
    // 0..4 take the stretch to 5 ms: the sixth waits
    expect(r.ran).toEqual([0, 1, 2, 3, 4]);
    expect(r.budget.stats()).toMatchObject({ deferred: 15, waiting: 15 });
    r.runTurn();
    expect(r.ran).toEqual(Array.from({ length: 10 }, (_, i) => i));
    // tasks that come while others wait go behind them, even in a fresh stretch
    r.budget.run(r.task(100, 1));
    expect(r.ran).toHaveLength(10);
    // 5 ms a turn: 10..14, 15..19, then 100
    r.runTurn();
    r.runTurn();
    expect(r.ran).toEqual(Array.from({ length: 20 }, (_, i) => i));
    r.runTurn();
    expect(r.ran).toEqual([...Array.from({ length: 20 }, (_, i) => i), 100]);
    expect(r.budget.stats()).toMatchObject({ deferred: 16, waiting: 0 });
    // and once nothing waits, a new turn runs tasks at once again
    r.runTurn();
    r.budget.run(r.task(200, 1));
    expect(r.ran.at(-1)).toBe(200);
  });

  it('a new turn of the loop starts a new stretch', () => {
    const r = rig(5);
    for (let i = 0; i < 4; i++) r.budget.run(r.task(i, 1));
    r.runTurn(); // the check phase ends the stretch
    r.advance(100);
    for (let i = 4; i < 8; i++) r.budget.run(r.task(i, 1));
    expect(r.ran).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(r.budget.stats().deferred).toBe(0);
  });

  it('a stretch the loop waited in since it began (begun by a timer, before the poll) is not over budget', () => {
    const r = rig(5);
    r.budget.run(r.task(0, 1));
    r.wait(50); // the loop idles in its poll phase, then a publish comes
    r.budget.run(r.task(1, 1));
    r.budget.run(r.task(2, 1));
    expect(r.ran).toEqual([0, 1, 2]);
    expect(r.budget.stats().deferred).toBe(0);
    // busy without waiting is what counts: 5 ms of it, and the next waits
    r.advance(10);
    r.budget.run(r.task(3, 1));
    expect(r.ran).toEqual([0, 1, 2]);
    expect(r.budget.stats().deferred).toBe(1);
  });

  it('a zero budget still runs one task a turn', () => {
    const r = rig(0);
    for (let i = 0; i < 3; i++) r.budget.run(r.task(i, 0));
    expect(r.ran).toEqual([0]);
    r.runTurn();
    expect(r.ran).toEqual([0, 1]);
    r.runTurn();
    expect(r.ran).toEqual([0, 1, 2]);
    expect(r.budget.stats()).toEqual({ deferred: 2, waiting: 0, yields: 2 });
  });

  it('keeps the order over a long wait that never empties, with tasks coming all along', () => {
    const r = rig(0);
    let next = 0;
    for (let turn = 0; turn < 12_000; turn++) {
      // two come for each one a turn runs: the queue never empties while they come
      if (turn < 6_000) for (let k = 0; k < 2; k++) r.budget.run(r.task(next++, 0));
      r.runTurn();
    }
    expect(r.ran).toEqual(Array.from({ length: next }, (_, i) => i));
    expect(r.budget.stats().waiting).toBe(0);
  });

  it('a task that waited and throws is reported, and the ones behind it still run', () => {
    const r = rig(1);
    r.budget.run(r.task(0, 1));
    r.budget.run(() => {
      throw new Error('boom');
    });
    r.budget.run(r.task(2, 0));
    r.runTurn();
    expect(r.ran).toEqual([0, 2]);
    expect(r.errors).toHaveLength(1);
    expect((r.errors[0] as Error).message).toBe('boom');
  });

  it('a task that runs at once throws to its caller', () => {
    const r = rig(5);
    expect(() =>
      r.budget.run(() => {
        throw new Error('now');
      }),
    ).toThrow('now');
    expect(r.errors).toHaveLength(0);
  });
});
