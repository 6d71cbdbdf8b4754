import { Type } from '@sinclair/typebox';

// CONTRACT.md "Identifiers": store, node, sensor, button, zone and staff ids.
export const ID_PATTERN = '^[a-z0-9][a-z0-9-]{0,31}$';
export const ID_RE = new RegExp(ID_PATTERN);
export const Id = (description?: string) =>
  Type.String({ pattern: ID_PATTERN, ...(description ? { description } : {}) });

export function isId(s: unknown): s is string {
  return typeof s === 'string' && ID_RE.test(s);
}
