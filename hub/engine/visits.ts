import type { Outcome, Visit } from '../../contract/index.ts';
import type { ClosedVisit, Party } from './machine.ts';

// Machine records (ms numbers) → the contract's Visit (ISO strings, seconds).

const iso = (ms: number) => new Date(ms).toISOString();

type Record_ = Pick<ClosedVisit, 'party' | 'entry' | 'size' | 'greet' | 'ttg' | 'staff' | 'breach' | 'mark'>;

function toVisit(store: string, r: Record_, outcome: Outcome): Visit {
  const out: Visit = { store, party: r.party, outcome, entryTime: iso(r.entry), size: r.size };
  if (r.greet !== undefined) out.greetTime = iso(r.greet);
  if (r.ttg !== undefined) out.ttgS = r.ttg / 1000;
  if (r.staff !== undefined) out.staff = r.staff;
  if (r.breach !== undefined) out.breachTime = iso(r.breach);
  if (r.mark !== undefined) out.markTime = iso(r.mark);
  return out;
}

export function closedToVisit(store: string, v: ClosedVisit): Visit {
  return { ...toVisit(store, v, v.outcome), closedTime: iso(v.closedAt) };
}

/**
 * A party still open in the machine. Greeted parties that could still grow already
 * have their outcome (met/late is fixed at the greet); ungreeted ones are `pending`.
 */
export function openPartyToVisit(store: string, p: Readonly<Party>): Visit {
  const outcome: Outcome = p.greet !== undefined ? (p.greetedOutcome ?? 'late') : 'pending';
  return toVisit(store, { ...p, party: p.id }, outcome);
}
