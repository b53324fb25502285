// Rules of the robot config that span several fields: reserved robot ids, broker accounts, demo passwords
// off loopback, normalization statistics against the observation. Called from the schema's superRefine, so
// every problem is one issue with its field path.
import type { z } from 'zod';
import { RESERVED_TOPIC_LEVELS } from '../contracts/topics.js';
import { normalizationSizeProblems } from './observation-size.js';
import type { RobotConfig } from './schema.js';

/** Passwords of the shipped examples (examples/*.yaml): fine on loopback, refused anywhere reachable. */
export const DEMO_PASSWORDS: readonly string[] = Object.freeze(['striatum-demo', 'striatum-demo-updater', 'striatum-demo-viewer']);

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || /^::ffff:127(\.\d{1,3}){3}$/.test(h);
}

type Ctx = z.core.$RefinementCtx<RobotConfig>;

export function robotConfigCrossChecks(cfg: RobotConfig, ctx: Ctx): void {
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  const reserved = `is reserved: striatum/v1/${RESERVED_TOPIC_LEVELS.join('/, striatum/v1/')}/ are not robot topics`;
  if (RESERVED_TOPIC_LEVELS.includes(cfg.robot.id)) issue(['robot', 'id'], `"${cfg.robot.id}" ${reserved}`);

  const mqtt = cfg.mqtt;
  const ownUsername = mqtt.username ?? cfg.robot.id;
  const seen = new Map<string, number>();
  mqtt.users.forEach((u, i) => {
    if (u.username === ownUsername) {
      issue(['mqtt', 'users', i, 'username'], `"${u.username}" is this robot's own login (mqtt.username, default robot.id); it would replace the robot's account`);
    }
    const first = seen.get(u.username);
    if (first !== undefined) issue(['mqtt', 'users', i, 'username'], `"${u.username}" is already the username of mqtt.users[${first}]; the later account would replace it`);
    else seen.set(u.username, i);
    if (u.role === 'robot') {
      const robot = u.robot ?? u.username;
      if (RESERVED_TOPIC_LEVELS.includes(robot)) issue(['mqtt', 'users', i, u.robot !== undefined ? 'robot' : 'username'], `robot "${robot}" ${reserved}`);
    }
  });

  // On the embedded broker a rollout account is one of mqtt.users, a robot account for this robot.
  const rolloutUser = cfg.rollout?.mqtt?.username;
  if (mqtt.broker === 'embedded' && rolloutUser !== undefined && rolloutUser !== ownUsername) {
    const account = mqtt.users.find((u) => u.username === rolloutUser);
    if (account === undefined || account.role !== 'robot' || (account.robot ?? account.username) !== cfg.robot.id) {
      issue(['rollout', 'mqtt', 'username'], `"${rolloutUser}" needs an mqtt.users entry with role robot and robot ${cfg.robot.id} on the embedded broker`);
    }
  }

  const listensBeyondLoopback = mqtt.broker === 'embedded' ? !isLoopbackHost(mqtt.host) : !isLoopbackHost(brokerHost(mqtt.broker));
  if (listensBeyondLoopback) {
    const where = mqtt.broker === 'embedded' ? `the embedded broker listens on ${mqtt.host}` : `the broker ${mqtt.broker} is not on loopback`;
    if (mqtt.broker === 'embedded') {
      mqtt.users.forEach((u, i) => {
        if (DEMO_PASSWORDS.includes(u.password)) issue(['mqtt', 'users', i, 'password'], `is a shipped demo password and ${where}; set a secret of your own`);
      });
    }
    if (mqtt.password !== undefined && DEMO_PASSWORDS.includes(mqtt.password)) issue(['mqtt', 'password'], `is a shipped demo password and ${where}; set a secret of your own`);
  }

  // Joint fields are sized by the config; other fields only by the transport (checked again at start-up).
  for (const line of normalizationSizeProblems(cfg.observation.fields, cfg.joints.length, cfg.observation.normalization, () => undefined)) {
    const colon = line.indexOf(': ');
    issue(line.slice(0, colon).split('.'), line.slice(colon + 2));
  }
}

function brokerHost(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return '';
  }
}
