// What the page knows about the fleet, built from MQTT messages only. No DOM here: views read it.
// Every inbound message is untrusted: parsed in a try, numbers checked, text kept as text, robot ids outside the
// topic grammar ignored and counted.

const MAX_JSON_BYTES = 64 * 1024;
const EVENTS_KEPT = 200;
const TELEMETRY_POINTS = 600;
const REWARD_POINTS = 1200;
const EPISODES_KEPT = 500;

const num = (x) => (typeof x === 'number' && Number.isFinite(x) ? x : NaN);
const str = (x, max = 300) => (typeof x === 'string' ? (x.length > max ? `${x.slice(0, max)}…` : x) : '');
const bool = (x) => (typeof x === 'boolean' ? x : null);

function push(array, value, max) {
  array.push(value);
  if (array.length > max) array.splice(0, array.length - max);
}

function newRobot(id) {
  return {
    id,
    online: null,
    state: null,
    reason: '',
    policyVersion: null,
    policyName: null,
    transport: null,
    /** Counts status/event messages, so a command can tell an answer from a message sent before it. */
    statusSeq: 0,
    eventSeq: 0,
    /** The last statuses with their sequence numbers: quick commands pass through states faster than a redraw. */
    statusLog: [],
    lastSeenMs: 0,
    lastStatusMs: 0,
    lastTelemetryMs: 0,
    telemetryIntervalS: NaN,
    periodErrorP99Us: NaN,
    deadlineMisses: NaN,
    episodeIndex: NaN,
    lastEvent: null,
    events: [],
    policyHistory: [],
    episodes: [],
    successProbability: NaN,
    rewardEpisode: NaN,
    malformed: 0,
    telemetry: null,
    series: {
      telemetry: { t: [], periodP50: [], periodP99: [], computeP50: [], computeP99: [] },
      reward: { t: [], progress: [], shaped: [] },
      episodes: { index: [], ret: [], success: [], voc: [] },
    },
    cameras: new Map(),
  };
}

export class FleetModel {
  /** @param grammar the topic grammar from /topics.js */
  constructor(grammar, { recentEpisodes = 20 } = {}) {
    this.grammar = grammar;
    this.recentEpisodes = recentEpisodes;
    this.robotIdPattern = new RegExp(grammar.robotIdPattern);
    this.robots = new Map();
    /** Topic levels that are not robot ids by the grammar: never shown as robots, counted here. */
    this.ignoredIds = new Set();
    this.ignoredMessages = 0;
    this.manifests = new Map();
    /** The updater's retained status and training progress; `losses` is the learning curve (time, per loss name). */
    this.updater = { status: null, training: null, statusMs: 0, trainingMs: 0, losses: { t: [], names: [], values: [] } };
    /** Bumped on every change; views redraw when it moved. */
    this.version = 0;
    this.decoder = new TextDecoder();
  }

  robot(id) {
    return this.robots.get(id) ?? null;
  }

  /** One MQTT message. Returns the robot it changed, or null. */
  ingest(topic, payload, nowMs = Date.now()) {
    const root = `${this.grammar.root}/`;
    if (!topic.startsWith(root)) return null;
    const levels = topic.slice(root.length).split('/');
    const first = levels[0];
    if (first === 'policy') return this.ingestManifest(levels, payload);
    if (first === 'updater') return this.ingestUpdater(levels, payload, nowMs);
    if (!this.robotIdPattern.test(first) || this.grammar.reserved.includes(first)) {
      this.ignoredMessages++;
      if (this.ignoredIds.size < 100) this.ignoredIds.add(str(first, 80));
      this.version++;
      return null;
    }
    const leaf = levels.slice(1).join('/');
    let robot = this.robots.get(first);
    if (levels.length === 3 && levels[1] === 'camera') {
      if (robot === undefined) return null; // frames alone do not make a robot
      robot.cameras.set(str(levels[2], 64), { jpeg: payload, atMs: nowMs });
      robot.lastSeenMs = nowMs;
      this.version++;
      return robot;
    }
    const body = this.parse(payload);
    if (robot === undefined) {
      if (body === null) { this.ignoredMessages++; this.version++; return null; }
      robot = newRobot(first);
      this.robots.set(first, robot);
    }
    if (body === null) {
      robot.malformed++;
      this.version++;
      return robot;
    }
    switch (leaf) {
      case 'status': this.onStatus(robot, body, nowMs); break;
      case 'telemetry': this.onTelemetry(robot, body, nowMs); break;
      case 'episode': this.onEpisode(robot, body, nowMs); break;
      case 'event': this.onEvent(robot, body, nowMs); break;
      case 'reward': this.onReward(robot, body, nowMs); break;
      default: return null;
    }
    this.version++;
    return robot;
  }

  parse(payload) {
    if (payload.length > MAX_JSON_BYTES) return null;
    try {
      const body = JSON.parse(this.decoder.decode(payload));
      return body !== null && typeof body === 'object' && !Array.isArray(body) ? body : null;
    } catch {
      return null;
    }
  }

  onStatus(robot, s, nowMs) {
    const online = bool(s.online);
    robot.online = online;
    robot.state = online === false ? null : str(s.state, 32) || null;
    robot.reason = str(s.reason);
    if (s.policy !== null && typeof s.policy === 'object') {
      robot.policyVersion = str(s.policy.version, 64) || null;
      robot.policyName = str(s.policy.name, 64) || null;
    }
    robot.transport = str(s.transport, 32) || null;
    robot.statusSeq++;
    push(robot.statusLog, { seq: robot.statusSeq, state: robot.state, reason: robot.reason }, 50);
    robot.lastStatusMs = nowMs;
    // A retained status replayed by the broker is not a sign of life; its stamp says when the robot wrote it.
    if (online === true) robot.lastSeenMs = Math.max(robot.lastSeenMs, Math.min(nowMs, Date.parse(s.stamp) || 0));
  }

  onTelemetry(robot, t, nowMs) {
    const loop = t.loop ?? {};
    robot.telemetry = t;
    robot.lastSeenMs = nowMs;
    robot.lastTelemetryMs = nowMs;
    if (typeof t.state === 'string' && robot.online !== false) robot.state = str(t.state, 32);
    robot.telemetryIntervalS = num(t.interval_s);
    robot.periodErrorP99Us = num(loop.period_error_us?.p99);
    robot.deadlineMisses = num(loop.deadline_misses);
    robot.episodeIndex = num(t.episode?.index);
    if (typeof t.policy?.version === 'string') robot.policyVersion = str(t.policy.version, 64);
    const s = robot.series.telemetry;
    push(s.t, nowMs / 1000, TELEMETRY_POINTS);
    push(s.periodP50, num(loop.period_error_us?.p50), TELEMETRY_POINTS);
    push(s.periodP99, num(loop.period_error_us?.p99), TELEMETRY_POINTS);
    push(s.computeP50, num(loop.compute_us?.p50), TELEMETRY_POINTS);
    push(s.computeP99, num(loop.compute_us?.p99), TELEMETRY_POINTS);
  }

  onReward(robot, r, nowMs) {
    robot.lastSeenMs = nowMs;
    const s = robot.series.reward;
    push(s.t, nowMs / 1000, REWARD_POINTS);
    push(s.progress, num(r.progress), REWARD_POINTS);
    push(s.shaped, num(r.total), REWARD_POINTS);
    robot.successProbability = num(r.success_probability);
    robot.rewardEpisode = num(r.episode);
  }

  onEpisode(robot, e, nowMs) {
    robot.lastSeenMs = nowMs;
    if (e.event !== 'end') return;
    const outcome = str(e.outcome, 16);
    const index = num(e.episode);
    // The success model's verdict: its last P(success) in this episode, when PRMs run.
    const prm = robot.rewardEpisode === index && Number.isFinite(robot.successProbability) ? robot.successProbability >= 0.5 : null;
    push(robot.episodes, { index, outcome, success: e.success === true, prmSuccess: prm, ret: num(e.reward?.return), voc: num(e.reward?.voc) }, EPISODES_KEPT);
    const s = robot.series.episodes;
    push(s.index, index, EPISODES_KEPT);
    push(s.ret, num(e.reward?.return), EPISODES_KEPT);
    push(s.success, outcome === 'aborted' ? NaN : e.success === true ? 1 : 0, EPISODES_KEPT);
    push(s.voc, num(e.reward?.voc), EPISODES_KEPT);
  }

  onEvent(robot, e, nowMs) {
    robot.lastSeenMs = nowMs;
    const event = { kind: str(e.kind, 32), code: str(e.code, 64), message: str(e.message, 500), stamp: str(e.stamp, 40), atMs: nowMs };
    robot.lastEvent = event;
    robot.eventSeq++;
    push(robot.events, event, EVENTS_KEPT);
    if (event.kind === 'policy') {
      // Deployments name their version; the signer's key comes from the retained manifest of that version.
      const version = /policy (\S+) active/.exec(event.message)?.[1] ?? /rolling back from \S+ to (\S+)/.exec(event.message)?.[1] ?? null;
      push(robot.policyHistory, { ...event, version, keyId: version !== null ? this.manifests.get(version)?.keyId ?? null : null }, EVENTS_KEPT);
    }
  }

  ingestManifest(levels, payload) {
    if (levels.length !== 3 || levels[2] !== 'manifest') return null;
    const m = this.parse(payload);
    if (m === null) return null;
    const version = str(m.version, 64);
    if (version !== '') this.manifests.set(version, { task: str(m.task, 64), version, sequence: num(m.sequence), keyId: str(m.key_id, 32) || null, stamp: str(m.created ?? m.stamp, 40) });
    this.version++;
    return null;
  }

  ingestUpdater(levels, payload, nowMs) {
    const body = this.parse(payload);
    if (body === null) return null;
    if (levels[1] === 'status') { this.updater.status = body; this.updater.statusMs = nowMs; }
    if (levels[1] === 'training') {
      this.updater.training = body;
      this.updater.trainingMs = nowMs;
      const losses = body.losses !== null && typeof body.losses === 'object' ? body.losses : {};
      const curve = this.updater.losses;
      for (const name of Object.keys(losses).slice(0, 4)) {
        if (curve.names.includes(name) || curve.names.length >= 4) continue;
        curve.names.push(str(name, 40));
        curve.values.push(curve.t.map(() => NaN));
      }
      if (body.state === 'training' && curve.names.length > 0) {
        push(curve.t, nowMs / 1000, 1000);
        curve.names.forEach((name, i) => push(curve.values[i], num(losses[name]), 1000));
      }
    }
    this.version++;
    return null;
  }

  /** Success rates over the last N judged episodes (aborted ones say nothing about the policy). */
  successRates(robot) {
    const judged = robot.episodes.filter((e) => e.outcome !== 'aborted' && e.outcome !== '').slice(-this.recentEpisodes);
    const withPrm = judged.filter((e) => e.prmSuccess !== null);
    return {
      n: judged.length,
      truth: judged.length > 0 ? judged.filter((e) => e.success).length / judged.length : NaN,
      prm: withPrm.length > 0 ? withPrm.filter((e) => e.prmSuccess).length / withPrm.length : NaN,
    };
  }

  /** 'online', 'offline', 'stale' (no telemetry for a while) or 'unknown' (status never seen). */
  liveness(robot, nowMs) {
    if (robot.online === false) return 'offline';
    const interval = Number.isFinite(robot.telemetryIntervalS) ? robot.telemetryIntervalS * 1000 : 1000;
    const staleAfter = Math.max(3000, 4 * interval);
    if (robot.lastTelemetryMs > 0 && nowMs - robot.lastTelemetryMs > staleAfter) return 'stale';
    if (robot.online === true) return robot.lastTelemetryMs > 0 || nowMs - robot.lastStatusMs < staleAfter ? 'online' : 'stale';
    return 'unknown';
  }
}
