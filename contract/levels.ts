import type { PartyLevel } from './api.ts';
import type { IndicatorLevel } from './events.ts';

// The waiting-level rule, in one place for the hub's live view, its indicator commands and
// the dashboard's running timers (CONTRACT.md "Store rules": amber at `warnAtS`; late at
// `greetWithinS`, or at once after a steps-line breach).

export function partyLevel(waitingS: number, breached: boolean, rules: { warnAtS: number; greetWithinS: number }): PartyLevel {
  if (breached || waitingS >= rules.greetWithinS) return 'late';
  return waitingS >= rules.warnAtS ? 'warn' : 'ok';
}

/** The store-wide indicator level: the worst level among the waiting parties, off when nobody waits. */
export function indicatorLevel(levels: Iterable<PartyLevel>): IndicatorLevel {
  let worst: IndicatorLevel = 'off';
  for (const l of levels) {
    if (l === 'late') return 'late';
    if (l === 'warn') worst = 'warn';
  }
  return worst;
}
