/**
 * A fixed-offset zone (IANA `Etc/GMT±N`) in which `ms` falls between 11:00 and 13:00. A test on
 * the real clock that reads today's figures then has ten hours before its store's day ends,
 * whatever the hour it runs at (a run across midnight UTC would find "today" empty).
 */
export function noonZone(ms = Date.now()): string {
  const off = 12 - new Date(ms).getUTCHours(); // −11 … +12: every one an Etc/GMT zone
  // Etc/GMT-N is N hours ahead of UTC (POSIX signs)
  return off === 0 ? 'UTC' : off > 0 ? `Etc/GMT-${off}` : `Etc/GMT+${-off}`;
}
