// The hub's time zones: rules from the system's tz database, which apt keeps current on a
// Pi, with Intl where the database has no file for a zone (README "Performance": Intl's
// formatters map about 8 MB of ICU into the hub for good).
import { readZoneRules } from '../../contract/time-zones.ts';
import { TimeZone } from './tz.ts';

/** Throws a RangeError, as `new TimeZone` does, for a zone neither source knows. */
export function storeTimeZone(name: string, dir?: string): TimeZone {
  return new TimeZone(name, readZoneRules(name, dir));
}
