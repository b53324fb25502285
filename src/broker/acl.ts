// Who may do what on the broker. Pure functions: the embedded broker calls them, and the same rules are
// documented for Mosquitto deployments (docs/mqtt-acl.md).
import { createHash, timingSafeEqual } from 'node:crypto';
import { TOPIC_ROOT, robotTopicLeaf, topics } from '../contracts/topics.js';

export type Role = 'robot' | 'updater' | 'operator' | 'viewer';

export interface Account {
  readonly username: string;
  readonly role: Role;
  /** For robots: the robot id whose prefix the account may publish under. */
  readonly robot: string | null;
  readonly passwordDigest: Buffer;
}

export function makeAccount(username: string, password: string, role: Role, robot?: string): Account {
  return { username, role, robot: role === 'robot' ? robot ?? username : null, passwordDigest: digest(password) };
}

function digest(s: string | Buffer): Buffer {
  return createHash('sha256').update(s).digest();
}

export function checkPassword(account: Account, password: Buffer | string | undefined): boolean {
  if (password === undefined) return false;
  return timingSafeEqual(account.passwordDigest, digest(password));
}

/**
 * Which account a client id belongs to, so that no account can take over another's session (a second CONNECT
 * with the same client id disconnects the first: a viewer using the robot's id would keep the robot off the
 * broker, and its e-stops with it). An account owns `<username>` and `<username>-…`; a robot account also owns
 * `striatum-<robot>` and `striatum-<robot>-…` (the robot link and rollout publisher use these). The longest
 * claim wins, so account `arm` does not own `arm-1-rollout` when account `arm-1` exists. Ids no account owns
 * (`mosq-…`, `mqttjs_…`) are open to every account, without that protection.
 */
export function clientIdOwner(accounts: readonly Account[], clientId: string): Account | null {
  let owner: Account | null = null;
  let claimLength = -1;
  for (const a of accounts) {
    const claims = a.role === 'robot' ? [a.username, `striatum-${a.robot as string}`] : [a.username];
    for (const claim of claims) {
      if ((clientId === claim || clientId.startsWith(`${claim}-`)) && claim.length > claimLength) {
        owner = a;
        claimLength = claim.length;
      }
    }
  }
  return owner;
}

export function canPublish(account: Account, topic: string): boolean {
  if (topic.includes('+') || topic.includes('#')) return false;
  switch (account.role) {
    case 'robot': {
      const id = account.robot as string;
      // A robot publishes under its own prefix, but never commands or acks addressed to itself.
      return topic.startsWith(topics.robotPrefix(id)) && topic !== topics.cmd(id) && topic !== topics.rolloutAck(id);
    }
    case 'updater':
      return topic.startsWith(topics.policyPrefix()) || topic.startsWith(topics.piecePrefix()) || topic.startsWith(topics.updaterPrefix())
        || robotTopicLeaf(topic) === 'rollout/ack';
    case 'operator':
      return robotTopicLeaf(topic) === 'cmd' || topic.startsWith(topics.operatorAccessPrefix());
    case 'viewer':
      return false;
  }
}

/**
 * Retained messages are replayed to every new subscriber: a retained command would be obeyed again on every
 * reconnect of the robot. Commands are never retained; everything else may be (status, manifests).
 */
export function canRetain(topic: string): boolean {
  return robotTopicLeaf(topic) !== 'cmd';
}

export function canSubscribe(account: Account, filter: string): boolean {
  if (filter.startsWith(topics.operatorAccessPrefix())) return account.role === 'operator';
  if (account.role !== 'robot') {
    return filter === '#' || filter.startsWith(`${TOPIC_ROOT}/`) || filter.startsWith('striatum/#') || filter.startsWith(topics.piecePrefix());
  }
  const id = account.robot as string;
  if (filter === topics.cmd(id) || filter === topics.rolloutAck(id)) return true;
  // Policy manifests and pieces are public to every robot; wildcards are allowed only below the policy level.
  return filter.startsWith(topics.policyPrefix()) || filter.startsWith(topics.piecePrefix());
}
