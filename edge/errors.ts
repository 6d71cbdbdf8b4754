// Errors of the edge agent. They follow contract/errors.ts (stable `code`, never renamed),
// but live here because contract/ErrorCode is a closed list owned by the contract module.
// If the hub or tooling ever needs to match on these, move the codes into contract/errors.ts.

export const EdgeErrorCodes = {
  /** node `driver` names hardware support that is not written yet (gpio, firmata) */
  DRIVER_UNSUPPORTED: 'GW_ERR_DRIVER_UNSUPPORTED',
  /** the outbox journal cannot be read, written or locked */
  OUTBOX_IO: 'GW_ERR_OUTBOX_IO',
  /** an event built by the node does not pass the contract validator (a bug, not bad input) */
  EVENT_BUILD: 'GW_ERR_EVENT_BUILD',
  /** command line or node selection is wrong (edge/main.ts) */
  USAGE: 'GW_ERR_USAGE',
} as const;

export type EdgeErrorCode = (typeof EdgeErrorCodes)[keyof typeof EdgeErrorCodes];

export class EdgeError extends Error {
  readonly code: EdgeErrorCode;
  constructor(code: EdgeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'EdgeError';
  }
}
