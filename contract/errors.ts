// Stable error codes: tests, logs and alerts match on these strings (README "Reliability").
// Add new codes at the end; never rename one: dashboards and alerts match on them.
export const ErrorCodes = {
  /** payload is not JSON */
  EVENT_JSON: 'GW_ERR_EVENT_JSON',
  /** CloudEvents envelope is missing a field or has a wrong one */
  EVENT_ENVELOPE: 'GW_ERR_EVENT_ENVELOPE',
  /** `type` is not one of the contract's event types */
  EVENT_TYPE: 'GW_ERR_EVENT_TYPE',
  /** `data` does not match the schema of its `type` */
  EVENT_DATA: 'GW_ERR_EVENT_DATA',
  /** `source` names another store/node than the topic it came on */
  EVENT_SOURCE: 'GW_ERR_EVENT_SOURCE',
  /** topic is not under greetwatch/v1/{store}/{node}/... */
  TOPIC: 'GW_ERR_TOPIC',
  /** event from a node the store config does not know */
  UNKNOWN_NODE: 'GW_ERR_UNKNOWN_NODE',
  /** event for another store than the hub serves */
  UNKNOWN_STORE: 'GW_ERR_UNKNOWN_STORE',
  /** config file cannot be read or parsed */
  CONFIG_PARSE: 'GW_ERR_CONFIG_PARSE',
  /** config file parsed but does not match the schema */
  CONFIG_INVALID: 'GW_ERR_CONFIG_INVALID',
  /** bad HTTP query/path parameter */
  BAD_PARAM: 'GW_ERR_BAD_PARAM',
  /** store not served by this hub */
  NOT_FOUND: 'GW_ERR_NOT_FOUND',
  /** history store (InfluxDB) write or query failed */
  STORE_IO: 'GW_ERR_STORE_IO',
  /** trace line in a replay file is not a CloudEvent */
  TRACE_LINE: 'GW_ERR_TRACE_LINE',
  /** authentication required or wrong token */
  UNAUTHORIZED: 'GW_ERR_UNAUTHORIZED',
  /** the node's hardware cannot be used here (no GPIO on this machine, a sim-only input on real hardware) */
  DRIVER_UNSUPPORTED: 'GW_ERR_DRIVER_UNSUPPORTED',
  /** the edge outbox journal cannot be read, written or locked */
  OUTBOX_IO: 'GW_ERR_OUTBOX_IO',
  /** an event built by a node does not pass the contract validator (a bug, not bad input) */
  EVENT_BUILD: 'GW_ERR_EVENT_BUILD',
  /** command line or node selection is wrong */
  USAGE: 'GW_ERR_USAGE',
  /** a driver could not open its board or a pin (busy, no permission, no such pin, board not answering) */
  DRIVER_OPEN: 'GW_ERR_DRIVER_OPEN',
  /** a node refused the config the hub sent it (another node's, wrong cfghash, invalid); it keeps running the one it has */
  CONFIG_REFUSED: 'GW_ERR_CONFIG_REFUSED',
  /** a node cannot write or read its last good config (<dataDir>/config.json) */
  CONFIG_STORE_IO: 'GW_ERR_CONFIG_STORE_IO',
  /** an event's time is more than rules.maxSkewS from the hub's clock (CONTRACT.md "Event envelope") */
  EVENT_TIME: 'GW_ERR_EVENT_TIME',
  /** the hub could not make an event durable in its trace (disk full, I/O error); it was not acknowledged */
  TRACE_IO: 'GW_ERR_TRACE_IO',
  /** logged in (or a token), but the route needs a higher role: an owner route for a manager */
  FORBIDDEN: 'GW_ERR_FORBIDDEN',
  /** too many attempts from one address (logins): the message says when to retry */
  RATE_LIMITED: 'GW_ERR_RATE_LIMITED',
  /** a Zigbee2MQTT device (or action) the store file does not map to a button */
  UNKNOWN_DEVICE: 'GW_ERR_UNKNOWN_DEVICE',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class GwError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'GwError';
  }
}
