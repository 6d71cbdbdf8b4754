import type { Visit } from '../../contract/index.ts';
import type { ClosedVisit, Party } from './machine.ts';

// Machine records (ms numbers) → the contract's Visit (ISO strings, seconds).

const iso = (ms: number) => new Date(ms).toISOString();

export function closedToVisit(store: string, v: ClosedVisit): Visit {
  const out: Visit = { store, party: v.party, outcome: v.outcome, entryTime: iso(v.entry), size: v.size, closedTime: iso(v.closedAt) };
  if (v.greet !== undefined) out.greetTime = iso(v.greet);
  if (v.ttg !== undefined) out.ttgS = v.ttg / 1000;
  if (v.staff !== undefined) out.staff = v.staff;
  if (v.breach !== undefined) out.breachTime = iso(v.breach);
  if (v.mark !== undefined) out.markTime = iso(v.mark);
  return out;
}

/**
 * A party still open in the machine. Greeted parties that could still grow already
 * have their outcome (met/late is fixed at the greet); ungreeted ones are `pending`.
 */
export function openPartyToVisit(store: string, p: Readonly<Party>): Visit {
  const out: Visit = {
    store,
    party: p.id,
    outcome: p.greet !== undefined ? (p.greetedOutcome ?? 'late') : 'pending',
    entryTime: iso(p.entry),
    size: p.size,
  };
  if (p.greet !== undefined) out.greetTime = iso(p.greet);
  if (p.ttg !== undefined) out.ttgS = p.ttg / 1000;
  if (p.staff !== undefined) out.staff = p.staff;
  if (p.breach !== undefined) out.breachTime = iso(p.breach);
  if (p.mark !== undefined) out.markTime = iso(p.mark);
  return out;
}
