// Errors of the edge agent: the codes live in the one contract list (contract/errors.ts)
// so hub, tools and tests match on the same strings.
import { ErrorCodes, GwError } from '../contract/errors.ts';

export const EdgeErrorCodes = {
  DRIVER_UNSUPPORTED: ErrorCodes.DRIVER_UNSUPPORTED,
  DRIVER_OPEN: ErrorCodes.DRIVER_OPEN,
  OUTBOX_IO: ErrorCodes.OUTBOX_IO,
  EVENT_BUILD: ErrorCodes.EVENT_BUILD,
  USAGE: ErrorCodes.USAGE,
} as const;

export type EdgeErrorCode = (typeof EdgeErrorCodes)[keyof typeof EdgeErrorCodes];

/** A GwError raised by the edge agent. */
export class EdgeError extends GwError {
  constructor(code: EdgeErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'EdgeError';
  }
}

/** The one wording for a pin a driver cannot open: node, pin, what it is for and why. */
export function driverOpenError(node: string, what: string, why: string, cause?: unknown): EdgeError {
  return new EdgeError(EdgeErrorCodes.DRIVER_OPEN, `node ${node}: ${what}: ${why}`, cause === undefined ? undefined : { cause });
}
