// The ROS 2 transport: Striatum as a ros2_control client. In: sensor_msgs/msg/JointState (matched to the
// config's joints by name), camera images, a std_msgs/msg/Bool e-stop. Out: commands to a forward command or
// joint trajectory controller, the robot's state on a latched topic, /diagnostics. The middleware is a backend
// (Cyclone DDS through ros2-bridge, or rclnodejs); messages are encoded here, so both put the same bytes on the wire.
import { StriatumError } from '../../errors.js';
import type { Logger } from '../../log.js';
import {
  emptyTransportStats,
  type CameraFrame, type CommandMode, type JointCommand, type JointState, type LoopCounters, type RobotDescription,
  type RobotTransport, type RuntimeAwareTransport, type TransportRuntime, type TransportStats,
} from '../types.js';
import type { Ros2Backend, Ros2Publisher, Ros2Qos } from './backend.js';
import { CommandEncoder, commandLayout, type CommandInterface } from './command-encoder.js';
import { diagnosticArray, IntervalStats } from './diagnostics.js';
import { RosCameraChannel, type ImageRejection } from './image-frames.js';
import { JointStateMatcher, type JointStateRejection } from './joint-state-matcher.js';
import {
  BOOL, COMPRESSED_IMAGE, DIAGNOSTIC_ARRAY, FLOAT64_MULTI_ARRAY, IMAGE, JOINT_STATE, JOINT_TRAJECTORY, STRING,
  decodeMessage, encodeMessage,
} from './messages.js';

export interface Ros2CameraOptions {
  readonly name: string;
  readonly topic: string;
  readonly compressed: boolean;
  readonly width: number;
  readonly height: number;
}

export interface Ros2TransportOptions {
  readonly backend: Ros2Backend;
  readonly robotId: string;
  readonly nodeName: string;
  readonly namespace: string;
  readonly jointNames: readonly string[];
  readonly mode: CommandMode;
  readonly controlHz: number;
  /** No accepted joint state for this long shows as linkUp = false (the loop's own timeout faults link_loss). */
  readonly linkTimeoutMs: number;
  readonly startupTimeoutMs: number;
  readonly jointStatesTopic: string;
  readonly commandInterface: CommandInterface;
  readonly controller: string;
  readonly commandTopic: string | null;
  readonly estopTopic: string;
  readonly stateTopic: string;
  readonly diagnosticsTopic: string;
  readonly diagnosticsHz: number;
  readonly cameras: readonly Ros2CameraOptions[];
  readonly qos: {
    readonly joint_states: Ros2Qos; readonly commands: Ros2Qos; readonly estop: Ros2Qos;
    readonly state: Ros2Qos; readonly diagnostics: Ros2Qos; readonly images: Ros2Qos;
  };
  readonly logger: Logger;
}

/** ROS name resolution: absolute names stay, "~/x" is under the node, anything else under the namespace. */
export function resolveTopic(topic: string, namespace: string, nodeName: string): string {
  if (topic.startsWith('/')) return topic;
  if (topic.startsWith('~/')) return `${namespace}/${nodeName}/${topic.slice(2)}`;
  return `${namespace}/${topic}`;
}

export function commandTopicOf(o: Pick<Ros2TransportOptions, 'commandTopic' | 'commandInterface' | 'controller'>): string {
  if (o.commandTopic !== null) return o.commandTopic;
  return o.commandInterface === 'forward_command' ? `/${o.controller}/commands` : `/${o.controller}/joint_trajectory`;
}

const REJECTIONS: readonly (JointStateRejection | ImageRejection | 'estop_malformed')[] =
  ['malformed', 'length_mismatch', 'missing_joint', 'non_finite', 'bad_size', 'bad_encoding', 'estop_malformed'];

export class Ros2Transport implements RobotTransport, RuntimeAwareTransport {
  readonly kind = 'ros2' as const;
  readonly stepSimulation = null;
  readonly episodes = null;
  /** Refused inbound messages by reason (also summed in stats().rejectedMessages). */
  readonly rejected: Record<string, number> = Object.fromEntries(REJECTIONS.map((r) => [r, 0]));

  private readonly o: Ros2TransportOptions;
  private readonly log: Logger;
  private readonly transportStats: TransportStats = emptyTransportStats();
  private readonly matcher: JointStateMatcher;
  private readonly cameraChannels: RosCameraChannel[];
  private readonly periodicityHz = new IntervalStats();
  private readonly executionUs = new IntervalStats();
  private encoder: CommandEncoder | null = null;
  private statePublisher: Ros2Publisher | null = null;
  private diagnosticsPublisher: Ros2Publisher | null = null;
  private diagnosticsTimer: NodeJS.Timeout | null = null;
  private runtime: TransportRuntime | null = null;
  private fresh = false;
  private stampMs = 0;
  private lastAcceptedMs = -Infinity;
  private lastReadMs = -1;
  private lastCommandMs = -1;
  private estopLatched = false;
  private firstStateWaiter: (() => void) | null = null;
  private missesAtLastDiagnostics = 0;
  private opened = false;
  private closed = false;

  constructor(options: Ros2TransportOptions) {
    this.o = options;
    this.log = options.logger;
    this.matcher = new JointStateMatcher(options.jointNames);
    this.cameraChannels = options.cameras.map((c) => new RosCameraChannel(c.name, c.width, c.height));
  }

  get backendName(): string {
    return this.o.backend.name;
  }

  // ---- lifecycle -----------------------------------------------------------------------------------------

  /**
   * Start the middleware, open every topic and wait for a joint state naming each configured joint. Throws
   * STRIATUM_ERR_ROS2_JOINTS naming the joints the robot's joint states lack, STRIATUM_ERR_TRANSPORT when no
   * joint state arrives at all.
   */
  async open(): Promise<RobotDescription> {
    if (this.opened) throw new StriatumError('STRIATUM_ERR_TRANSPORT', 'ros2 transport is already open');
    this.opened = true;
    const o = this.o;
    const topic = (t: string) => resolveTopic(t, o.namespace, o.nodeName);
    const identity = await o.backend.open();
    const commandTopic = topic(commandTopicOf(o));
    const commandDef = o.commandInterface === 'forward_command' ? FLOAT64_MULTI_ARRAY : JOINT_TRAJECTORY;
    const commandPublisher = await o.backend.publisher(commandTopic, commandDef, o.qos.commands);
    this.encoder = new CommandEncoder(commandPublisher, commandLayout(o.commandInterface, o.jointNames, o.mode, 1 / o.controlHz), o.jointNames.length);
    this.statePublisher = await o.backend.publisher(topic(o.stateTopic), STRING, o.qos.state);
    this.diagnosticsPublisher = await o.backend.publisher(topic(o.diagnosticsTopic), DIAGNOSTIC_ARRAY, o.qos.diagnostics);
    await o.backend.subscribe(topic(o.estopTopic), BOOL, o.qos.estop, (payload) => this.onEstop(payload));
    for (let i = 0; i < o.cameras.length; i++) {
      const cam = o.cameras[i];
      const channel = this.cameraChannels[i];
      await o.backend.subscribe(topic(cam.topic), cam.compressed ? COMPRESSED_IMAGE : IMAGE, o.qos.images, (payload) => {
        const why = cam.compressed ? channel.acceptCompressed(payload, (late) => this.reject(late)) : channel.acceptRaw(payload);
        if (why !== null) this.reject(why);
      });
    }
    const jointStatesTopic = topic(o.jointStatesTopic);
    const firstState = new Promise<void>((resolve) => { this.firstStateWaiter = resolve; });
    await o.backend.subscribe(jointStatesTopic, JOINT_STATE, o.qos.joint_states, (payload) => this.onJointState(payload));
    await o.backend.announceNode();
    this.publishState('idle');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), o.startupTimeoutMs); });
    const late = await Promise.race([firstState.then(() => false), timedOut]);
    clearTimeout(timer);
    if (late) {
      this.firstStateWaiter = null;
      if (this.rejected.missing_joint > 0) {
        throw new StriatumError('STRIATUM_ERR_ROS2_JOINTS', `joint states on ${jointStatesTopic} lack configured joint(s): ${this.matcher.missing.join(', ')}`, [
          'every joint in the config must appear by name in sensor_msgs/msg/JointState (extra joints are ignored)',
        ]);
      }
      throw new StriatumError('STRIATUM_ERR_TRANSPORT', `no valid joint state on ${jointStatesTopic} within ${o.startupTimeoutMs} ms`, [
        `rejected so far: ${REJECTIONS.filter((r) => this.rejected[r] > 0).map((r) => `${r} ${this.rejected[r]}`).join(', ') || 'none'}`,
        `is the robot (joint_state_broadcaster) running on ROS_DOMAIN_ID ${process.env.ROS_DOMAIN_ID ?? '0'}?`,
      ]);
    }
    this.diagnosticsTimer = setInterval(() => this.publishDiagnostics(), 1000 / o.diagnosticsHz);
    this.diagnosticsTimer.unref();
    this.log.info('ros2 transport open', {
      backend: o.backend.name, identity, joint_states: jointStatesTopic, commands: commandTopic, command_interface: o.commandInterface,
      estop: topic(o.estopTopic), state: topic(o.stateTopic),
    });
    return Object.freeze({
      jointNames: Object.freeze([...o.jointNames]),
      extraFields: Object.freeze({}),
      cameras: Object.freeze(o.cameras.map((c) => Object.freeze({ name: c.name, width: c.width, height: c.height }))),
      identity: `ros2 (${o.backend.name}) ${identity}`,
      jointLimits: null,
    });
  }

  /** The loop wrote its safe command before this; the state topic says we are gone, then the middleware stops. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.diagnosticsTimer !== null) clearInterval(this.diagnosticsTimer);
    this.diagnosticsTimer = null;
    try {
      this.publishDiagnostics();
      this.publishState('stopped');
      await this.o.backend.close();
    } catch (err) {
      this.log.warn('ros2 transport close failed', { error: String((err as Error).message ?? err) });
    }
    this.transportStats.linkUp = false;
  }

  // ---- the tick ------------------------------------------------------------------------------------------

  readState(into: JointState): boolean {
    const now = performance.now();
    this.lastReadMs = now;
    this.transportStats.linkUp = now - this.lastAcceptedMs <= this.o.linkTimeoutMs;
    if (!this.fresh) return false;
    this.fresh = false;
    into.stampMs = this.stampMs;
    into.positions.set(this.matcher.positions);
    into.velocities.set(this.matcher.velocities);
    into.efforts.set(this.matcher.efforts);
    return true;
  }

  writeCommand(command: JointCommand): void {
    const encoder = this.encoder;
    if (encoder === null || this.closed) return;
    if (encoder.send(command.targets)) this.transportStats.framesOut++;
    else this.transportStats.droppedFrames++;
    const now = performance.now();
    if (this.lastReadMs >= 0) this.executionUs.add((now - this.lastReadMs) * 1000);
    if (this.lastCommandMs >= 0 && now > this.lastCommandMs) this.periodicityHz.add(1000 / (now - this.lastCommandMs));
    this.lastCommandMs = now;
  }

  latestFrame(camera: string): CameraFrame | null {
    for (let i = 0; i < this.cameraChannels.length; i++) {
      const c = this.cameraChannels[i];
      if (c.name === camera) return c.framesIn > 0 ? c.frame : null;
    }
    return null;
  }

  estop(reason: string): void {
    if (!this.estopLatched) this.log.warn('e-stop latched', { reason });
    this.estopLatched = true;
  }

  arm(): Promise<void> {
    this.estopLatched = false;
    return Promise.resolve();
  }

  stats(): TransportStats {
    return this.transportStats;
  }

  // ---- runtime -------------------------------------------------------------------------------------------

  attachRuntime(runtime: TransportRuntime): void {
    this.runtime = runtime;
  }

  controlStateChanged(state: string, reason: string): void {
    this.publishState(state);
    if (state === 'estopped') this.publishDiagnostics();
    this.log.debug('state published', { state, reason });
  }

  // ---- inbound -------------------------------------------------------------------------------------------

  private onJointState(payload: Uint8Array): void {
    const why = this.matcher.accept(payload);
    if (why !== null) {
      this.reject(why);
      return;
    }
    this.transportStats.framesIn++;
    const now = performance.now();
    this.stampMs = now;
    this.lastAcceptedMs = now;
    this.fresh = true;
    if (this.firstStateWaiter !== null) {
      this.firstStateWaiter();
      this.firstStateWaiter = null;
    }
  }

  private onEstop(payload: Uint8Array): void {
    let data: boolean;
    try {
      data = decodeMessage(BOOL, payload).data === true;
    } catch {
      this.reject('estop_malformed');
      return;
    }
    if (!data) return; // false never clears a latch: arm is explicit
    const reason = `estop via ROS 2 topic ${resolveTopic(this.o.estopTopic, this.o.namespace, this.o.nodeName)}`;
    this.estop(reason);
    this.runtime?.requestEstop(reason);
  }

  private reject(why: JointStateRejection | ImageRejection | 'estop_malformed'): void {
    this.rejected[why]++;
    this.transportStats.rejectedMessages++;
    const total = this.transportStats.rejectedMessages;
    // The first of each run, then every 100th: a stream of bad messages must not flood the log.
    if (total === 1 || total % 100 === 0) this.log.warn('ros2 message rejected', { reason: why, rejected_total: total });
  }

  // ---- outbound (off the tick) ---------------------------------------------------------------------------

  private publishState(state: string): void {
    this.statePublisher?.publish(encodeMessage(STRING, { data: state }));
  }

  private publishDiagnostics(): void {
    const publisher = this.diagnosticsPublisher;
    if (publisher === null) return;
    const loop: LoopCounters | null = this.runtime?.loopCounters() ?? null;
    const message = diagnosticArray({
      nodeName: this.o.nodeName, hardwareId: this.o.robotId, stampS: Date.now() / 1000, controlHz: this.o.controlHz,
      periodicityHz: this.periodicityHz, executionUs: this.executionUs, loop, deadlineMissesBefore: this.missesAtLastDiagnostics,
      link: {
        backend: this.o.backend.name, jointStatesIn: this.transportStats.framesIn, commandsOut: this.transportStats.framesOut,
        commandsDropped: this.transportStats.droppedFrames, rejected: this.rejected,
        imagesIn: this.cameraChannels.reduce((n, c) => n + c.framesIn, 0), estopLatched: this.estopLatched,
        linkUp: this.transportStats.linkUp,
      },
    });
    publisher.publish(encodeMessage(DIAGNOSTIC_ARRAY, message));
    this.missesAtLastDiagnostics = loop?.deadlineMisses ?? 0;
    this.periodicityHz.reset();
    this.executionUs.reset();
  }
}
