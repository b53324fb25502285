// What `striatum run` tells a person at start-up: where to watch the robot (MQTT URLs, a mosquitto_sub line
// to paste) and what success rate to expect from the policy, from its model card.
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import type { LoadedConfig } from '../config/load.js';
import { topics } from '../contracts/topics.js';
import type { Logger } from '../log.js';
import type { RobotRuntime } from '../runtime/robot-runtime.js';

/** The evaluation a model card reports: the first table under "## Evaluation" with episodes and success rate. */
export function modelCardEvaluation(markdown: string): { episodes: number; successRate: number } | null {
  const section = markdown.split(/^## /m).find((s) => s.startsWith('Evaluation'));
  if (section === undefined) return null;
  const rows = section.split('\n').filter((l) => l.trim().startsWith('|')).map((l) => l.trim().replace(/^\||\|$/g, '').split('|').map((c) => c.trim().replace(/\*/g, '')));
  if (rows.length < 3) return null;
  const header = rows[0].map((c) => c.toLowerCase());
  const episodesAt = header.indexOf('episodes');
  const rateAt = header.indexOf('success rate');
  if (episodesAt < 0 || rateAt < 0) return null;
  const episodes = Number(rows[2][episodesAt]);
  const percent = Number(rows[2][rateAt]?.replace('%', ''));
  if (!Number.isFinite(episodes) || !Number.isFinite(percent)) return null;
  return { episodes, successRate: percent / 100 };
}

/** A shell word, single-quoted. */
function quoted(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A shell word: as is when plainly safe, quoted otherwise. */
function shellWord(s: string): string {
  return /^[A-Za-z0-9@%+=:,./_-]+$/.test(s) ? s : quoted(s);
}

/** A path as a person would type it from here: relative when under the current directory. */
function shownPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

export function logStartUpHints(runtime: RobotRuntime, loaded: LoadedConfig, logger: Logger): void {
  const cfg = loaded.config;
  const robotTopics = `${topics.robotPrefix(cfg.robot.id)}#`;
  const broker = runtime.embeddedBroker;
  if (broker !== null) {
    // A listener on every interface is still reachable on loopback, which is what a paste on this machine needs.
    const host = broker.host === '0.0.0.0' || broker.host === '::' ? '127.0.0.1' : broker.host;
    const ws = broker.wsPort === null ? null : `ws://${host}:${broker.wsPort}`;
    const watcher = cfg.mqtt.users.find((u) => u.role === 'operator') ?? cfg.mqtt.users.find((u) => u.role === 'viewer');
    const sub = watcher === undefined ? null
      : `mosquitto_sub -h ${host} -p ${broker.port} -u ${shellWord(watcher.username)} -P ${quoted(watcher.password)} -t ${shellWord(robotTopics)} -v`;
    const dashboard = broker.wsPort !== null && cfg.mqtt.dashboard ? `http://${host.includes(':') ? `[${host}]` : host}:${broker.wsPort}/` : null;
    let readable = `watch the robot: ${broker.url} (MQTT over TCP)${ws !== null ? `, ${ws} (MQTT over WebSocket)` : ''}, topics ${robotTopics}`;
    if (dashboard !== null) readable += `\n    dashboard: ${dashboard} (log in with an mqtt.users account)`;
    if (sub !== null) readable += `\n    ${sub}`;
    logger.info('watch the robot', { mqtt: broker.url, ws, dashboard, topics: robotTopics, mosquitto_sub: sub }, readable);
  } else {
    logger.info('watch the robot', { mqtt: cfg.mqtt.broker, ws: null, topics: robotTopics, mosquitto_sub: null },
      `watch the robot on ${cfg.mqtt.broker}, topics ${robotTopics}`);
  }

  const card = loaded.resolvePath(cfg.policy.model).replace(/\.onnx$/, '') + '.card.md';
  if (!existsSync(card)) return;
  const evaluation = modelCardEvaluation(readFileSync(card, 'utf8'));
  const policy = runtime.status(true, 'start-up').policy;
  const name = policy === null ? 'policy' : `policy ${policy.name} ${policy.version}`;
  if (evaluation === null) {
    logger.info('policy model card', { card, success_rate: null, episodes: null }, `${name}: model card ${shownPath(card)}`);
    return;
  }
  const percent = Math.round(evaluation.successRate * 100);
  logger.info('policy model card', { card, success_rate: evaluation.successRate, episodes: evaluation.episodes },
    `${name}: about ${percent}% success over ${evaluation.episodes} evaluation episodes (${shownPath(card)}); expect about ${100 - percent}% of episodes to fail`);
}
