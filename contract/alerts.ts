import { Type, type Static } from '@sinclair/typebox';
import { Id } from './ids.ts';

// What the hub publishes on `greetwatch/v1/{store}/alerts` (QoS 1, not retained): our
// extension of CONTRACT.md "MQTT topics" (README "Alerts"). Each alert is one JSON object;
// `id` is unique, so a subscriber that gets one twice can tell.

const base = {
  id: Type.String(),
  store: Id(),
  /** hub time of the alert, ISO UTC */
  time: Type.String(),
  /** one sentence for a person, e.g. on a phone's lock screen */
  message: Type.String(),
};

export const PartyAlert = Type.Object({
  ...base,
  /** warn: at warnAtS; late: at greetWithinS; escalated: still late escalateAfterS after that */
  type: Type.Union([Type.Literal('party.warn'), Type.Literal('party.late'), Type.Literal('party.escalated')]),
  party: Type.String(),
  entryTime: Type.String(),
  waitingS: Type.Number({ minimum: 0 }),
  size: Type.Integer({ minimum: 1 }),
});

export const NodeAlert = Type.Object({
  ...base,
  type: Type.Union([Type.Literal('node.offline'), Type.Literal('node.online')]),
  node: Id(),
});

export const FaultAlert = Type.Object({
  ...base,
  type: Type.Literal('node.fault'),
  node: Id(),
  sensor: Id(),
  kind: Type.String(),
  detail: Type.Optional(Type.String()),
});

export const Alert = Type.Union([PartyAlert, NodeAlert, FaultAlert]);
export type Alert = Static<typeof Alert>;
