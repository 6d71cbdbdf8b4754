import { createHash } from 'node:crypto';
import type { Client, PublishPacket, Subscription } from 'aedes';
import type { Logger } from 'pino';
import { topics } from '../contract/index.ts';
import { verifyPassword } from '../firmware-config/passwords.ts';
import type { StoreConfig } from '../firmware-config/schema.ts';

// Who may use the hub's broker, and for what (README "Security"). Kept apart from ingest:
// this decides whether a client may connect, publish or subscribe; ingest then judges what
// an allowed publish says.
// - A node logs in with its own login from the store file (`nodes[].mqtt`, scrypt hash) and
//   may publish only its own `events` and `status` (its Last Will is a publish too) and
//   subscribe only to its own `config` and `cmd` (CONTRACT.md "MQTT topics").
// - A dashboard user (manager, owner) may log in read-only: subscribe to `{store}/visits`,
//   `{store}/alerts` and the nodes' status (and Home Assistant's topics when that is on),
//   publish nothing but Home Assistant's birth message.
// - Zigbee2MQTT, given a login in the store file, may publish and subscribe under its base topic.
// - Nobody else gets in. A connection that takes a node's client id (gw-{store}-{node})
//   without that node's login is refused before aedes would hand it the session, so it
//   cannot kick the node off.

/** who a connection logged in as, with the hash it was checked against (a reload may change it) */
export type Principal = { kind: 'node'; node: string; hash: string } | { kind: 'reader'; user: string; hash: string } | { kind: 'bridge'; user: string; hash: string };

export type RefusalReason = 'no-credentials' | 'bad-credentials' | 'client-id-taken';

export interface BrokerAccess {
  authenticate(client: Client, username: string | undefined, password: Buffer | undefined): Promise<Principal | RefusalReason>;
  /** null when allowed, else why not */
  publishRefusal(client: Client, packet: PublishPacket): string | null;
  subscribeAllowed(client: Client, sub: Subscription): boolean;
  /** whether a client's login still stands in `cfg` (after a reload); false for one never logged in */
  stillValid(client: Client, cfg: StoreConfig): boolean;
  /** forgets a client (on disconnect) */
  forget(client: Client): void;
}

/**
 * What a dashboard user (or Home Assistant logged in as one) may read: visits and alerts,
 * the nodes' retained status, and with Home Assistant on, its discovery topics and our
 * state for it (README "Home Assistant").
 */
function readerMay(cfg: StoreConfig, topic: string): boolean {
  const store = cfg.store.id;
  if (topic === topics.visits(store) || topic === topics.alerts(store)) return true;
  // the hub serves one store: `+` for the store matches only its own (examples/node-red)
  if (topic === topics.visits('+') || topic === topics.alerts('+')) return true;
  if (topic === topics.allNodes(store, 'status') || cfg.nodes.some((n) => topic === topics.status(store, n.id))) return true;
  const ha = cfg.integrations.homeAssistant;
  if (!ha.enabled) return false;
  return topic === topics.haState(store) || topic === topics.haAvailability(store) || topic === `${ha.discoveryPrefix}/#` || topic.startsWith(`${ha.discoveryPrefix}/`);
}

/** successful verifications, so a reconnecting node does not cost a scrypt every time (bounded) */
const CACHE_MAX = 256;

export function brokerAccess(opts: { config: () => StoreConfig; log?: Logger; verify?: (password: string, hash: string) => Promise<boolean> }): BrokerAccess {
  const verify = opts.verify ?? verifyPassword;
  const principals = new WeakMap<Client, Principal>();
  const verified = new Map<string, string>(); // key → the passwordHash it was verified against

  /** checks under way: a node reconnecting many times at once costs one scrypt, not one each */
  const inFlight = new Map<string, Promise<boolean>>();
  const check = async (username: string, password: string, hash: string): Promise<boolean> => {
    const key = `${username}\u0000${hash}\u0000${createHash('sha256').update(password).digest('base64')}`;
    if (verified.get(key) === hash) return true;
    let pending = inFlight.get(key);
    if (!pending) {
      pending = verify(password, hash).finally(() => inFlight.delete(key));
      inFlight.set(key, pending);
    }
    if (!(await pending)) return false;
    if (verified.size >= CACHE_MAX) verified.delete(verified.keys().next().value!);
    verified.set(key, hash);
    return true;
  };

  return {
    async authenticate(client, username, password) {
      const cfg = opts.config();
      const store = cfg.store.id;
      // a node's client id is reserved for that node's login
      const owner = cfg.nodes.find((n) => client.id === `gw-${store}-${n.id}`);
      if (username === undefined || password === undefined) return 'no-credentials';
      const pw = password.toString('utf8');
      const node = cfg.nodes.find((n) => n.mqtt && (n.mqtt.username ?? n.id) === username);
      if (node?.mqtt) {
        if (owner && owner.id !== node.id) return 'client-id-taken';
        if (!(await check(username, pw, node.mqtt.passwordHash))) return 'bad-credentials';
        const p: Principal = { kind: 'node', node: node.id, hash: node.mqtt.passwordHash };
        principals.set(client, p);
        return p;
      }
      // Zigbee2MQTT, when it uses the hub's broker (README "Zigbee2MQTT buttons")
      const z = cfg.integrations.zigbee2mqtt.mqtt;
      if (z && (z.username ?? 'zigbee2mqtt') === username) {
        if (owner) return 'client-id-taken';
        if (!(await check(username, pw, z.passwordHash))) return 'bad-credentials';
        const p: Principal = { kind: 'bridge', user: username, hash: z.passwordHash };
        principals.set(client, p);
        return p;
      }
      const user = cfg.users.find((u) => u.id === username);
      if (user) {
        if (owner) return 'client-id-taken';
        if (!(await check(username, pw, user.passwordHash))) return 'bad-credentials';
        const p: Principal = { kind: 'reader', user: user.id, hash: user.passwordHash };
        principals.set(client, p);
        return p;
      }
      return 'bad-credentials';
    },

    publishRefusal(client, packet) {
      const p = principals.get(client);
      if (!p) return 'not logged in';
      if (p.kind === 'bridge') {
        const base = opts.config().integrations.zigbee2mqtt.baseTopic;
        return packet.topic.startsWith(`${base}/`) ? null : `Zigbee2MQTT may publish only under ${base}/, not ${packet.topic}`;
      }
      if (p.kind === 'reader') {
        // Home Assistant announces itself (its birth message) so integrations resend discovery
        const ha = opts.config().integrations.homeAssistant;
        if (ha.enabled && packet.topic === `${ha.discoveryPrefix}/status` && !packet.retain) return null;
        return `user ${p.user} may not publish (read-only)`;
      }
      const store = opts.config().store.id;
      // the two topics themselves: what parsing the topic and comparing its parts would allow
      if (packet.topic === topics.events(store, p.node) || packet.topic === topics.status(store, p.node)) return null;
      return `node ${p.node} may publish only on ${topics.events(store, p.node)} and ${topics.status(store, p.node)}, not ${packet.topic}`;
    },

    subscribeAllowed(client, sub) {
      const p = principals.get(client);
      if (!p) return false;
      const store = opts.config().store.id;
      if (p.kind === 'node') return sub.topic === topics.config(store, p.node) || sub.topic === topics.cmd(store, p.node);
      if (p.kind === 'bridge') {
        const cfg = opts.config();
        return sub.topic.startsWith(`${cfg.integrations.zigbee2mqtt.baseTopic}/`) || sub.topic === `${cfg.integrations.homeAssistant.discoveryPrefix}/status`;
      }
      return readerMay(opts.config(), sub.topic);
    },

    stillValid(client, cfg) {
      const p = principals.get(client);
      if (!p) return false;
      if (p.kind === 'node') return cfg.nodes.some((n) => n.id === p.node && n.mqtt?.passwordHash === p.hash);
      if (p.kind === 'bridge') return cfg.integrations.zigbee2mqtt.mqtt?.passwordHash === p.hash;
      return cfg.users.some((u) => u.id === p.user && u.passwordHash === p.hash);
    },

    forget(client) {
      principals.delete(client);
    },
  };
}
