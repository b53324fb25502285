// Assembles one robot: embedded broker (if configured), MQTT link, transport, policy, control loop, telemetry.
// Subsystems start in this order and stop in reverse, so shutdown always ends with the motors in their safe
// state before the link and the broker go away.
import { randomBytes, type KeyObject } from 'node:crypto';
import { makeAccount, type Account } from '../broker/acl.js';
import { EmbeddedBroker } from '../broker/embedded-broker.js';
import { dashboardHandler } from '../dashboard/dashboard-files.js';
import { assertNormalizationSize } from '../config/observation-size.js';
import type { LoadedConfig } from '../config/load.js';
import type { RobotConfig } from '../config/schema.js';
import { CONTRACT_VERSION, type StatusMessage, type TelemetryMessage } from '../contracts/messages.js';
import { ControlLoop } from '../control/control-loop.js';
import { noiseCorrelation, stallBursts } from '../control/exploration.js';
import { HookSink, type EpisodeSummary, type StepSink, type StepView } from '../control/step.js';
import { allocateJointState, resolveObservationFields, type ObservationField } from '../control/observation.js';
import { RealtimeClock, VirtualClock } from '../control/scheduler.js';
import { StriatumError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ActionSource } from '../policy/action-source.js';
import { OnnxPolicy, type PolicyExpectations } from '../policy/onnx-policy.js';
import { PolicyManager, RollbackTracker, loadTrustedKeys } from '../policy/policy-manager.js';
import { restorePolicies, type RestoredPolicies } from '../policy/policy-restore.js';
import { PolicyStore } from '../policy/policy-store.js';
import { RewardPipeline } from '../reward/reward-pipeline.js';
import { NO_REWARD_OUTLET, RewardReporter } from '../reward/reward-reporter.js';
import { rolloutLogin, type RolloutLogin } from '../rollout/config.js';
import { RolloutService } from '../rollout/rollout-service.js';
import type { McapRecorder } from '../dataset/mcap-recorder.js';
import { FoxgloveBridge } from '../foxglove/foxglove-bridge.js';
import { CameraPublisher } from '../telemetry/camera-publisher.js';
import { RobotLink } from '../telemetry/robot-link.js';
import { startTelemetry, telemetryMessage } from '../telemetry/telemetry.js';
import { runtimeAwareOf, type RobotDescription, type RobotTransport, type RuntimeAwareTransport } from '../transports/types.js';
import { checkJointsAgainstRobot, resolveLimits, resolveScale, timeLimitOf } from './resolve.js';
import { EpisodeReporter, NO_EPISODE_OUTLET } from './episode-reporter.js';
import { routeCommands } from './command-router.js';
import { createTransport } from './transport-factory.js';
import { resolveSuccessSignal, type SuccessSignal } from '../reward/success-signal.js';
import type { FaultEventCode } from '../contracts/event-codes.js';

export interface RuntimeOptions {
  readonly loaded: LoadedConfig;
  readonly logger: Logger;
  /** Replace the ONNX policy, e.g. by the simulator's expert when recording demonstrations. */
  readonly source?: (transport: RobotTransport, robot: RobotDescription) => ActionSource;
  /** Wraps the loaded ONNX policy (offline only, no policy updates), e.g. to add exploration noise when recording. */
  readonly wrapPolicy?: (policy: ActionSource, transport: RobotTransport) => ActionSource;
  /** false: no broker, no MQTT (offline recording and evaluation). */
  readonly mqtt: boolean;
  /** Run the configured process-reward models (default: with MQTT; their workers run in real time). */
  readonly rewards?: boolean;
  readonly realtime?: boolean;
  readonly episodes?: number | null;
  readonly onStep?: (step: StepView) => void;
  readonly onEpisode?: (summary: EpisodeSummary, event: 'start' | 'end') => void;
}

/** The policy start-up settled on, and what the policy manager needs to take updates for it. */
interface LoadedPolicy {
  readonly source: ActionSource;
  /** What an update must fit; null with a caller-supplied source (no updates). */
  readonly want: PolicyExpectations | null;
  readonly restored: RestoredPolicies | undefined;
  readonly store: { store: PolicyStore; trustedKeys: Map<string, KeyObject> } | null;
}

export class RobotRuntime {
  private broker: EmbeddedBroker | null = null;
  private link: RobotLink | null = null;
  private transport: RobotTransport | null = null;
  private runtimeAware: RuntimeAwareTransport | null = null;
  /** The policy loaded at start-up. Once the loop exists it owns the running policy: ask `activeSource`. */
  private loadedSource: ActionSource | null = null;
  rewards: RewardPipeline | null = null;
  rollouts: RolloutService | null = null;
  /** The robot's own MCAP recording (`recording.mcap`); null when not configured. */
  mcap: McapRecorder | null = null;
  private mqttLogin: { url: string; username: string; password: string; rollout: RolloutLogin | null } | null = null;
  private telemetryTimer: NodeJS.Timeout | null = null;
  /** JPEG frames for dashboards (mqtt.camera_frames); null when off. */
  cameraPublisher: CameraPublisher | null = null;
  /** The Foxglove live view (config foxglove); null when off. */
  foxglove: FoxgloveBridge | null = null;
  private foxgloveCameras: CameraPublisher | null = null;
  loop: ControlLoop | null = null;
  /** What ends episodes as successes (episodes.success_signal, resolved at start-up). */
  successSignal: SuccessSignal = 'environment';
  /** Signed over-the-air policy updates; null without MQTT or with a caller-supplied source. */
  policyManager: PolicyManager | null = null;
  /** Observation fields with their sizes on this robot, known once the transport is open. */
  observationFields: readonly ObservationField[] = [];
  private stopped = false;
  /** The reason a latched fault ended an offline run (no MQTT link to re-arm); null otherwise. */
  private latchedWithoutOperator: string | null = null;

  private constructor(private readonly o: RuntimeOptions, readonly config: RobotConfig) {}

  /** Start every subsystem; on any failure, stop what was started and rethrow. */
  static async start(o: RuntimeOptions): Promise<RobotRuntime> {
    const rt = new RobotRuntime(o, o.loaded.config);
    try {
      await rt.startAll();
    } catch (err) {
      await rt.shutdown('start-up failed');
      throw err;
    }
    return rt;
  }

  /** The policy running now: the loop's, or before the loop exists the one loaded at start-up. */
  get activeSource(): ActionSource | null {
    return this.loop !== null ? this.loop.activeSource : this.loadedSource;
  }

  get brokerUrl(): string | null {
    return this.broker?.url ?? null;
  }

  get embeddedBroker(): EmbeddedBroker | null {
    return this.broker;
  }

  private async startAll(): Promise<void> {
    const { config: cfg, o } = this;
    const log = o.logger;
    if (o.mqtt) await this.startLink();
    const { transport, robot, fields } = await this.openTransport();
    const policy = await this.loadPolicy(transport, robot, fields);
    if (cfg.reward !== null && cfg.reward.models.length > 0 && (o.rewards ?? o.mqtt)) {
      this.rewards = await RewardPipeline.start({
        config: cfg.reward, cameras: robot.cameras, periodS: 1 / cfg.control.rate_hz, frames: transport,
        resolvePath: o.loaded.resolvePath, logger: log.child('reward'),
        observationDim: fields.reduce((sum, f) => sum + f.size, 0),
        lockstep: !(o.realtime ?? cfg.control.realtime),
      });
    }
    const realtime = o.realtime ?? cfg.control.realtime;
    this.successSignal = resolveSuccessSignal(cfg, this.rewards !== null);
    if (this.successSignal === 'success_model') {
      log.info('learning mode: the success model ends episodes as successes; the environment\'s verdict goes only to ground_truth', { time_limit_s: timeLimitOf(cfg) });
    } else if (cfg.rollout !== null && cfg.rollout.enabled && transport.kind === 'sim') {
      log.warn('rollouts carry the simulator\'s own success flag (episodes.success_signal: environment, or no success model): a learner trained on them learns from ground truth');
    }
    await this.startRollouts(transport, fields, policy.source, realtime);
    await this.startMcap(transport, robot, fields, realtime);
    const rollback = this.link !== null && policy.want !== null ? new RollbackTracker() : null;
    if (cfg.foxglove !== null) await this.startFoxglove(transport, robot, fields);
    this.loop = this.buildLoop(transport, robot, fields, policy.source, realtime, this.stepSinks(rollback));
    this.attachTransportRuntime(transport, this.loop);
    if (this.link !== null && policy.want !== null) {
      this.policyManager = this.startPolicyManager(this.link, this.loop, policy.want, policy.restored, policy.store);
      rollback?.attach(this.policyManager);
    }
    if (this.link !== null) {
      routeCommands(this.link, this.loop, this.policyManager, log);
      this.link.publishStatus(this.status(true, 'start-up'));
      this.telemetryTimer = startTelemetry({
        link: this.link, rateHz: cfg.mqtt.telemetry_hz, telemetry: () => this.telemetry(), rewards: this.rewards, logger: log,
      });
      if (cfg.mqtt.camera_frames !== null) {
        this.cameraPublisher = new CameraPublisher(cfg.mqtt.camera_frames, robot.cameras.map((c) => c.name), transport, this.link, log.child('camera'));
      }
    }
  }

  /** A transport with its own e-stop and state channels (ROS 2) gets the loop's e-stop and counters. */
  private attachTransportRuntime(transport: RobotTransport, loop: ControlLoop): void {
    const aware = runtimeAwareOf(transport);
    if (aware === null) return;
    this.runtimeAware = aware;
    aware.attachRuntime({
      requestEstop: (reason) => { loop.handleCommand('estop', reason); },
      loopCounters: () => ({
        state: loop.state, ticks: loop.accounting.ticks, deadlineMisses: loop.accounting.deadlineMisses,
        skippedPeriods: loop.accounting.skippedPeriods, overruns: loop.accounting.overruns, faults: loop.faults,
        lastFault: loop.lastFault, clampedPosition: loop.safety.clampedPosition, clampedVelocity: loop.safety.clampedVelocity,
        clampedEffort: loop.safety.clampedEffort, clampedDelta: loop.safety.clampedDelta, nonfiniteActions: loop.safety.nonfiniteActions,
      }),
    });
    aware.controlStateChanged(loop.state, 'start-up');
  }

  private async startFoxglove(transport: RobotTransport, robot: RobotDescription, fields: readonly ObservationField[]): Promise<void> {
    const cfg = this.config;
    const fox = cfg.foxglove;
    if (fox === null) return;
    const cameras = robot.cameras.map((c) => c.name);
    this.foxglove = await FoxgloveBridge.start({
      host: fox.host, port: fox.port, rateHz: fox.rate_hz, robotId: cfg.robot.id, jointNames: robot.jointNames, mode: cfg.action.mode,
      observationFields: fields, cameras, reward: this.rewards?.record ?? null, state: () => this.loop?.state ?? 'idle',
      logger: this.o.logger.child('foxglove'),
    });
    const frames = cfg.mqtt.camera_frames;
    this.foxgloveCameras = new CameraPublisher({ hz: frames?.hz ?? 2, quality: frames?.quality ?? 70, cameras: [] }, cameras, transport, this.foxglove, this.o.logger.child('foxglove'));
  }

  private async startLink(): Promise<void> {
    const cfg = this.config;
    const { url, username, password } = await this.startBroker();
    // Resolved before the robot connects: a missing rollout password variable stops start-up at once.
    const rollout = cfg.rollout !== null && cfg.rollout.enabled ? rolloutLogin(cfg.rollout.mqtt, { username, password }, process.env) : null;
    this.mqttLogin = { url, username, password, rollout };
    this.link = new RobotLink({
      url, robotId: cfg.robot.id, username, password, keepaliveS: cfg.mqtt.keepalive_s, logger: this.o.logger.child('mqtt'), connectWaitMs: 5000,
      onDisconnect: cfg.mqtt.on_disconnect, disconnectGraceMs: cfg.mqtt.disconnect_grace_ms,
    });
    await this.link.start();
  }

  private async openTransport(): Promise<{ transport: RobotTransport; robot: RobotDescription; fields: readonly ObservationField[] }> {
    const cfg = this.config;
    const log = this.o.logger;
    const transport = await createTransport(cfg, log.child('transport'));
    this.transport = transport;
    const robot = await transport.open();
    log.info('robot transport open', { kind: transport.kind, identity: robot.identity, joints: robot.jointNames });
    checkJointsAgainstRobot(cfg, robot);
    const fields = resolveObservationFields(cfg.observation.fields, robot);
    assertNormalizationSize(cfg, fields);
    this.observationFields = fields;
    return { transport, robot, fields };
  }

  /** The caller's source, or the configured ONNX policy (or the release restored from the policy store). */
  private async loadPolicy(transport: RobotTransport, robot: RobotDescription, fields: readonly ObservationField[]): Promise<LoadedPolicy> {
    const { config: cfg, o } = this;
    const log = o.logger;
    if (o.source) {
      this.loadedSource = o.source(transport, robot);
      return { source: this.loadedSource, want: null, restored: undefined, store: null };
    }
    const want: PolicyExpectations = {
      observationFields: fields,
      jointNames: cfg.joints.map((j) => j.name),
      mode: cfg.action.mode,
      chunk: cfg.action.chunk,
      execution: cfg.action.execution,
      ensembleDecay: cfg.action.ensemble_decay,
      scale: resolveScale(cfg),
      normalization: cfg.observation.normalization,
      explorationStd: cfg.exploration !== null ? { logStd: cfg.exploration.log_std, scale: cfg.exploration.std_scale } : undefined,
    };
    const modelPath = o.loaded.resolvePath(cfg.policy.model);
    this.loadedSource = await OnnxPolicy.load({
      modelPath,
      metadataPath: cfg.policy.metadata !== undefined ? o.loaded.resolvePath(cfg.policy.metadata) : undefined,
      providers: cfg.policy.execution_providers,
      threads: cfg.policy.threads,
      warmupRuns: cfg.policy.warmup_runs,
      logger: log.child('policy'),
    }, want);
    if (o.wrapPolicy !== undefined) {
      this.loadedSource = o.wrapPolicy(this.loadedSource, transport);
      return { source: this.loadedSource, want: null, restored: undefined, store: null };
    }
    // Over-the-air releases kept from before a restart are verified again and run instead of the shipped model.
    if (this.link === null || cfg.policy.trusted_keys.length === 0) return { source: this.loadedSource, want, restored: undefined, store: null };
    const trustedKeys = loadTrustedKeys(cfg.policy.trusted_keys.map((k) => o.loaded.resolvePath(k)));
    const store = await PolicyStore.open(o.loaded.resolvePath(cfg.policy.state_dir), cfg.robot.task, log.child('policy'));
    const restored = await restorePolicies({
      store, shipped: this.loadedSource, task: cfg.robot.task, trustedKeys, expectations: want, providers: cfg.policy.execution_providers,
      threads: cfg.policy.threads, warmupRuns: cfg.policy.warmup_runs, link: this.link, logger: log.child('policy'),
    });
    this.loadedSource = restored.active;
    return { source: this.loadedSource, want, restored, store: { store, trustedKeys } };
  }

  private async startRollouts(transport: RobotTransport, fields: readonly ObservationField[], source: ActionSource, realtime: boolean): Promise<void> {
    const { config: cfg, o } = this;
    const login = this.mqttLogin;
    if (login === null || login.rollout === null || cfg.rollout === null) return;
    this.rollouts = await RolloutService.start({
      robotId: cfg.robot.id, task: cfg.robot.task, observationFields: fields, joints: cfg.joints.map((j) => j.name),
      policyVersion: source.version, stampOriginUnixMs: realtime ? performance.timeOrigin : null,
      config: cfg.rollout, spoolDir: o.loaded.resolvePath(cfg.rollout.spool_dir),
      mqtt: { url: login.url, username: login.rollout.username, password: login.rollout.password, clientId: login.rollout.clientId, keepaliveS: cfg.mqtt.keepalive_s },
      latestFrame: (camera) => transport.latestFrame(camera), logger: o.logger.child('rollout'),
      reward: this.rewards !== null ? this.rewards.record : null,
    });
  }

  private async startMcap(transport: RobotTransport, robot: RobotDescription, fields: readonly ObservationField[], realtime: boolean): Promise<void> {
    const { config: cfg, o } = this;
    const m = cfg.recording.mcap;
    if (m === null) return;
    // Loaded only when configured: robots that do not record never load the MCAP library.
    const { McapRecorder } = await import('../dataset/mcap-recorder.js');
    this.mcap = new McapRecorder({
      path: o.loaded.resolvePath(m.path), topics: m.topics === null ? null : new Set(m.topics), maxBytes: m.max_size * 1024 * 1024,
      chunkBytes: m.chunk_size * 1024,
      layout: { joints: cfg.joints.map((j) => j.name), observation: fields, cameras: robot.cameras.map((c) => ({ name: c.name, width: c.width, height: c.height, channels: 3 })) },
      latestFrame: robot.cameras.length > 0 ? (camera) => transport.latestFrame(camera) : null,
      reward: this.rewards !== null ? this.rewards.record : null, stampOriginUnixMs: realtime ? performance.timeOrigin : null,
      logger: o.logger.child('mcap'),
    });
    await this.mcap.start();
  }

  /**
   * The step pipeline, built once: the loop calls these in this order after every step and at each episode's
   * start and end. The reward pipeline comes first: the recorder and the reward reporter read its record.
   */
  private stepSinks(rollback: RollbackTracker | null): StepSink[] {
    const { config: cfg, o } = this;
    const log = o.logger;
    const link = this.link;
    const rewards = this.rewards;
    const sinks: StepSink[] = [];
    if (rewards !== null) sinks.push(rewards);
    if (this.rollouts !== null) sinks.push(this.rollouts.recorder);
    if (this.mcap !== null) sinks.push(this.mcap);
    if (rewards !== null) sinks.push(new RewardReporter(rewards.record, link ?? NO_REWARD_OUTLET, cfg.robot.id, log));
    if (this.foxglove !== null) sinks.push(this.foxglove);
    if (o.onStep !== undefined || o.onEpisode !== undefined) sinks.push(new HookSink({ onStep: o.onStep, onEpisode: o.onEpisode }));
    sinks.push(new EpisodeReporter(cfg.robot.id, link ?? NO_EPISODE_OUTLET, rewards, log));
    if (rollback !== null) sinks.push(rollback);
    return sinks;
  }

  private buildLoop(
    transport: RobotTransport, robot: RobotDescription, fields: readonly ObservationField[], source: ActionSource, realtime: boolean, sinks: StepSink[],
  ): ControlLoop {
    const { config: cfg, o } = this;
    const log = o.logger;
    const link = this.link;
    const narrowed: string[] = [];
    const limits = resolveLimits(cfg, robot.jointLimits, narrowed);
    if (narrowed.length > 0) log.warn('the device reports tighter joint limits than the config; using the device\'s', { joints: narrowed });
    return new ControlLoop({
      rateHz: cfg.control.rate_hz,
      transport,
      source,
      clock: realtime ? new RealtimeClock(cfg.control.spin_us) : new VirtualClock(),
      logger: log.child('control'),
      jointState: allocateJointState(robot),
      observationFields: fields,
      limits,
      mode: cfg.action.mode,
      stormWindow: cfg.control.deadline_storm.window,
      stormMaxMisses: cfg.control.deadline_storm.max_misses,
      linkTimeoutMs: cfg.control.link_timeout_ms,
      episodeCount: o.episodes !== undefined ? o.episodes : cfg.episodes.count,
      episodeSeed: cfg.episodes.seed,
      timeLimitS: timeLimitOf(cfg),
      autostart: cfg.control.autostart,
      settle: this.rewards !== null ? () => (this.rewards as RewardPipeline).settle() : null,
      exploration: cfg.exploration !== null
        ? {
          enabled: cfg.exploration.enabled, seed: cfg.exploration.seed, evaluationEvery: cfg.exploration.evaluation_every,
          correlation: noiseCorrelation(cfg.exploration.correlation_s, cfg.control.rate_hz),
          stall: cfg.exploration.stall !== null ? stallBursts(cfg.exploration.stall, cfg.control.rate_hz) : undefined,
        }
        : undefined,
      sinks,
      successJudge: this.successSignal === 'success_model' ? this.rewards : null,
      onTransition: (_from, to, reason) => {
        this.runtimeAware?.controlStateChanged(to, reason);
        link?.publishStatus(this.status(true, reason));
        if (to === 'estopped') {
          // The code says which fault (or an operator's e-stop); the message keeps the transition's reason.
          const fault = this.loop?.lastFault ?? null;
          const code: FaultEventCode = reason.startsWith('fault: ') && fault !== null ? fault : 'estop';
          link?.publishEvent({ kind: 'fault', code, message: `safe state latched: ${reason}; send arm to leave it` });
        }
        // Without MQTT nobody can arm: the latch is final, and a run with an episode count would wait forever.
        if (to === 'estopped' && link === null) {
          this.latchedWithoutOperator = reason;
          this.loop?.stop(`safe state latched with no operator link: ${reason}`);
        }
      },
    });
  }

  private startPolicyManager(
    link: RobotLink, loop: ControlLoop, want: PolicyExpectations, restored: RestoredPolicies | undefined, store: LoadedPolicy['store'],
  ): PolicyManager {
    const cfg = this.config;
    const manager = new PolicyManager({
      task: cfg.robot.task, robotId: cfg.robot.id, expectations: want,
      trustedKeys: store?.trustedKeys ?? loadTrustedKeys([]), store: store?.store ?? null, restored,
      providers: cfg.policy.execution_providers, threads: cfg.policy.threads, warmupRuns: cfg.policy.warmup_runs,
      autoRollback: cfg.policy.auto_rollback, link, loop, logger: this.o.logger.child('policy'),
      onActivated: (next) => {
        this.rollouts?.recorder.setPolicyVersion(next.version);
        setImmediate(() => link.publishStatus(this.status(true, `policy ${next.version} active`)));
      },
    });
    manager.start();
    return manager;
  }

  private async startBroker(): Promise<{ url: string; username: string; password: string }> {
    const m = this.config.mqtt;
    const username = m.username ?? this.config.robot.id;
    let password = m.password;
    if (m.password_env !== undefined) {
      password = process.env[m.password_env];
      if (password === undefined) throw new StriatumError('STRIATUM_ERR_CONFIG', `mqtt.password_env: environment variable ${m.password_env} is not set`);
    }
    if (m.broker !== 'embedded') {
      return { url: m.broker, username, password: password ?? '' };
    }
    // The robot's own account on its own broker: a random password when none is configured.
    const robotPassword = password ?? randomBytes(18).toString('base64url');
    const accounts: Account[] = [makeAccount(username, robotPassword, 'robot', this.config.robot.id)];
    for (const u of m.users) accounts.push(makeAccount(u.username, u.password, u.role, u.robot));
    this.broker = await EmbeddedBroker.start({
      host: m.host, port: m.port, wsPort: m.ws_port, accounts, logger: this.o.logger.child('broker'),
      maxConnections: m.max_connections, maxPacketBytes: m.max_packet_bytes,
      httpHandler: m.dashboard ? dashboardHandler({ broker: null }) : undefined,
    });
    return { url: this.broker.url, username, password: robotPassword };
  }

  /** Run the control loop until stopped or the episode count is reached. */
  async run(): Promise<string> {
    if (this.loop === null) throw new StriatumError('STRIATUM_ERR_INTERNAL', 'runtime not started');
    const reason = await this.loop.run();
    // Offline runs (record, eval) have no operator to re-arm: a latched fault ends them as a safety error.
    if (this.latchedWithoutOperator !== null) {
      throw new StriatumError('STRIATUM_ERR_SAFETY', `the robot latched its safe state (${this.latchedWithoutOperator}) and no operator link can re-arm it`);
    }
    return reason;
  }

  status(online: boolean, reason: string): StatusMessage {
    const s = this.activeSource;
    return {
      v: CONTRACT_VERSION,
      robot: this.config.robot.id,
      online,
      state: online ? this.loop?.state ?? 'idle' : null,
      reason,
      policy: s ? { name: s.name, version: s.version, provider: s.provider } : null,
      transport: this.transport?.kind ?? null,
      stamp: new Date().toISOString(),
    };
  }

  /** One telemetry message from the subsystems' stats() providers; takes the loop's interval. */
  telemetry(): TelemetryMessage {
    if (this.loop === null || this.transport === null) throw new StriatumError('STRIATUM_ERR_INTERNAL', 'runtime not started');
    return telemetryMessage({
      robotId: this.config.robot.id, rateHz: this.config.control.rate_hz, loop: this.loop, transport: this.transport,
      mqtt: this.link, policyUpdates: this.policyManager, rewards: this.rewards, rollouts: this.rollouts,
    });
  }

  /** Stop in reverse order: loop, motors to safe state, policy, MQTT link (offline status), broker last. */
  async shutdown(reason: string): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const log = this.o.logger;
    this.loop?.stop(reason);
    if (this.telemetryTimer !== null) clearInterval(this.telemetryTimer);
    this.cameraPublisher?.close();
    this.foxgloveCameras?.close();
    const steps: [string, () => Promise<void>][] = [
      ['transport', async () => { await this.transport?.close(); }],
      // PRM workers must finish their in-flight run: onnxruntime aborts the process if one is terminated mid-run.
      ['reward models', async () => { await this.rewards?.close(); }],
      ['policy', async () => { await this.policyManager?.close(); await this.activeSource?.close(); }],
      // The spool is durable: what is not acknowledged now is resent at the next start.
      ['rollout', async () => { await this.rollouts?.close(reason, 2000); }],
      ['mcap recording', async () => { await this.mcap?.close(); }],
      ['foxglove', async () => { await this.foxglove?.close(); }],
      ['mqtt', async () => { await this.link?.close(this.status(false, `shutdown: ${reason}`)); }],
      ['broker', async () => { await this.broker?.close(); }],
    ];
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (err) {
        log.error(`error while stopping ${name}`, { error: String((err as Error).message ?? err) });
      }
    }
    log.info('shutdown complete', { reason });
  }
}
