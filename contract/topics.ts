import { isId } from './ids.ts';

// CONTRACT.md "MQTT topics": prefix greetwatch/v1.
export const TOPIC_PREFIX = 'greetwatch/v1';

export type NodeChannel = 'events' | 'status' | 'config' | 'cmd';
const NODE_CHANNELS: ReadonlySet<string> = new Set(['events', 'status', 'config', 'cmd']);

export const topics = {
  events: (store: string, node: string) => `${TOPIC_PREFIX}/${store}/${node}/events`,
  status: (store: string, node: string) => `${TOPIC_PREFIX}/${store}/${node}/status`,
  config: (store: string, node: string) => `${TOPIC_PREFIX}/${store}/${node}/config`,
  cmd: (store: string, node: string) => `${TOPIC_PREFIX}/${store}/${node}/cmd`,
  visits: (store: string) => `${TOPIC_PREFIX}/${store}/visits`,
  /** our extension (README "Alerts"): warn/late parties, nodes offline, faults */
  alerts: (store: string) => `${TOPIC_PREFIX}/${store}/alerts`,
  /** our extension (README "Home Assistant"): retained state and hub availability for discovery */
  haState: (store: string) => `${TOPIC_PREFIX}/${store}/ha/state`,
  haAvailability: (store: string) => `${TOPIC_PREFIX}/${store}/ha/availability`,
  /** MQTT wildcard for a channel of every node of a store (or of every store with '+'). */
  allNodes: (store: string, channel: NodeChannel) => `${TOPIC_PREFIX}/${store}/+/${channel}`,
} as const;

export type ParsedTopic =
  | { kind: 'node'; store: string; node: string; channel: NodeChannel }
  | { kind: 'visits'; store: string };

const PREFIX_SLASH = `${TOPIC_PREFIX}/`;

/** Parses a greetwatch topic; returns null for anything outside the contract. */
export function parseTopic(topic: string): ParsedTopic | null {
  // by the positions of its slashes, no array of parts: the hub parses every publish's topic
  if (!topic.startsWith(PREFIX_SLASH)) return null;
  const from = PREFIX_SLASH.length;
  const a = topic.indexOf('/', from);
  if (a < 0) return null;
  const store = topic.slice(from, a);
  const b = topic.indexOf('/', a + 1);
  // nothing after the store but one part: `{store}/visits`; a channel with a slash in it is none of NODE_CHANNELS
  if (b < 0) return topic.endsWith('/visits') && isId(store) ? { kind: 'visits', store } : null;
  const channel = topic.slice(b + 1);
  if (!NODE_CHANNELS.has(channel) || !isId(store)) return null;
  const node = topic.slice(a + 1, b);
  if (!isId(node)) return null;
  return { kind: 'node', store, node, channel: channel as NodeChannel };
}

export const sourceOf = (store: string, node: string) => `/stores/${store}/nodes/${node}`;
const SOURCE_RE = /^\/stores\/([a-z0-9][a-z0-9-]{0,31})\/nodes\/([a-z0-9][a-z0-9-]{0,31})$/;
export function parseSource(source: string): { store: string; node: string } | null {
  const m = SOURCE_RE.exec(source);
  return m ? { store: m[1]!, node: m[2]! } : null;
}
