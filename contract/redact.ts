/** A URL fit for a log line: a password in it (mqtt://node:secret@hub, INFLUX_URL) becomes `***`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.password) return url;
    u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
