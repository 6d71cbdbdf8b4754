import { Type, type Static } from '@sinclair/typebox';
import { Bucket } from './api.ts';
import { Id } from './ids.ts';

// Shapes of history reports: the owner's weekly report and the chain ranking. Figures are
// those of CONTRACT.md "Metrics over a period", over ISO weeks in store-local time.

const NullableNumber = Type.Union([Type.Number(), Type.Null()]);
const WeekdayName = Type.Union(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => Type.Literal(d)));

/** "2026-W47" */
export const IsoWeekString = Type.String({ pattern: '^\\d{4}-W\\d{2}$' });

export const WeekSummary = Type.Object({
  // visits by outcome, serviceLevel, asgS: as in every bucket of the contract report
  ...Bucket.properties,
  serviceLevelStrict: NullableNumber,
  p50S: NullableNumber,
  p90S: NullableNumber,
  maxS: NullableNumber,
  /** met + late parties with a TTG: the sample asgS and the percentiles are over */
  greeted: Type.Integer(),
});
export type WeekSummary = Static<typeof WeekSummary>;

export const DayFigures = Type.Object({
  /** store-local date, YYYY-MM-DD */
  date: Type.String(),
  weekday: WeekdayName,
  ...Bucket.properties,
  /** serviceLevel ≥ the store's target; null when there is no service level */
  meetsTarget: Type.Union([Type.Boolean(), Type.Null()]),
});
export type DayFigures = Static<typeof DayFigures>;

/** one weekday × store-local hour of the week */
export const GridCell = Type.Object({
  weekday: WeekdayName,
  hour: Type.Integer({ minimum: 0, maximum: 23 }),
  visits: Type.Integer(),
  serviceLevel: NullableNumber,
});
export type GridCell = Static<typeof GridCell>;

/** greeted TTGs in `bucketS` buckets [0, 5), [5, 10) …; the last count is every TTG ≥ openFromS */
export const TtgDistribution = Type.Object({
  bucketS: Type.Integer(),
  /** bucketS × (counts.length − 1): the first TTG of the open-ended last bucket */
  openFromS: Type.Integer(),
  counts: Type.Array(Type.Integer()),
});
export type TtgDistribution = Static<typeof TtgDistribution>;

export const StaffWeekFigures = Type.Object({
  staff: Id(),
  greets: Type.Integer(),
  met: Type.Integer(),
  asgS: NullableNumber,
});
export type StaffWeekFigures = Static<typeof StaffWeekFigures>;

/** one store's figures for one ISO week; `source` says whether raw visits or hourly rollups gave them */
export const WeekFigures = Type.Object({
  week: IsoWeekString,
  /** Monday 00:00 store-local, ISO UTC */
  from: Type.String(),
  /** the next Monday 00:00 store-local, ISO UTC */
  to: Type.String(),
  source: Type.Union([Type.Literal('raw'), Type.Literal('rollup')]),
  summary: WeekSummary,
  /** 7 days, Monday first */
  days: Type.Array(DayFigures),
  /** 168 cells: weekdays Monday first, hours 0–23 within each */
  grid: Type.Array(GridCell),
  ttg: TtgDistribution,
  /** sorted by staff id */
  staff: Type.Array(StaffWeekFigures),
});
export type WeekFigures = Static<typeof WeekFigures>;

export const WeeklyReport = Type.Object({
  store: Id(),
  name: Type.Optional(Type.String()),
  /** IANA zone the week is local to */
  timeZone: Type.String(),
  target: Type.Object({ serviceLevel: Type.Number(), greetWithinS: Type.Number() }),
  ...WeekFigures.properties,
  compare: Type.Object({ previous: WeekFigures, fourWeeksAgo: WeekFigures }),
  /** staff id → name, for the store this hub serves (other stores of a chain show ids) */
  staffNames: Type.Optional(Type.Record(Type.String(), Type.String())),
});
export type WeeklyReport = Static<typeof WeeklyReport>;

export const RankedStore = Type.Object({
  /** 1-based; stores with equal serviceLevel and visits share a rank */
  rank: Type.Integer({ minimum: 1 }),
  store: Id(),
  serviceLevel: NullableNumber,
  visits: Type.Integer(),
  met: Type.Integer(),
  asgS: NullableNumber,
  p50S: NullableNumber,
  p90S: NullableNumber,
});
export type RankedStore = Static<typeof RankedStore>;

export const ChainRanking = Type.Object({
  week: IsoWeekString,
  stores: Type.Array(RankedStore),
});
export type ChainRanking = Static<typeof ChainRanking>;
