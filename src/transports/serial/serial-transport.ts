// The serial link to robot firmware (SBP over serialport) behind the RobotTransport interface: robot semantics
// on top of one SBP session (serial-link.ts). Framing, messages and timing are the pure modules beside it; this
// file owns the per-tick copy in and out, arming and e-stop, the link's health, and a safe close.
// Works the same on a USB/UART device and on a pty.
import { StriatumError } from '../../errors.js';
import type { Logger } from '../../log.js';
import {
  emptyTransportStats,
  type CameraFrame, type JointCommand, type JointLimits, type JointState, type RobotDescription, type RobotTransport,
  type TransportStats,
} from '../types.js';
import { shouldSendArm, type ArmIntent } from './arming.js';
import type { FrameDecoder } from './frame-decoder.js';
import { decodeStateInto, SbpState, type SbpMessage } from './messages.js';
import { PayloadReader } from './payload-reader.js';
import {
  SBP_ARM, SBP_ESTOP, SBP_FAULT_WATCHDOG, SBP_FLAG_ARMED, SBP_FLAG_ESTOPPED, SBP_FLAG_FAULT, SBP_FLAG_HANDSHAKE_OK,
  SBP_FLAG_WATCHDOG_SAFE, SBP_MAX_JOINTS, sbpFaultName,
} from './protocol.js';
import { RttTracker } from './rtt-tracker.js';
import { SBP_OK } from './sbp-error.js';
import { readSchemaHash } from './schema-hash.js';
import { SbpLink } from './serial-link.js';
import { SbpSimulator } from './sim-process.js';

/** `path` value that starts firmware-bridge's host simulator and uses its pty. */
export const AUTO_SIM_PATH = 'auto-sim';

export interface SerialTransportOptions {
  /** Serial device (/dev/ttyACM0) or pty; AUTO_SIM_PATH starts the host simulator. */
  path: string;
  /** Line rate; meaningless on a pty and on USB CDC, where the link runs at bus speed. */
  baud: number;
  /** Joint names from the config, in order; the firmware reports only counts and limits. */
  jointNames: readonly string[];
  /** Control loop rate; sets the default watchdog and the healthy-stream gap sent to the firmware. */
  controlHz: number;
  handshakeTimeoutMs: number;
  /** No STATE for this long shows as linkUp = false in stats(). */
  linkTimeoutMs: number;
  /** MCU command watchdog; default max(20, 3 control periods) ms. */
  watchdogMs?: number;
  safeMode: 'hold' | 'disable';
  reconnectInitialMs: number;
  reconnectMaxMs: number;
  /** With path auto-sim: arguments for the simulator (the factory derives --joints and --limits from the config). */
  simulatorArgs?: readonly string[];
  logger: Logger;
  /** Schema hash sent in HELLO; default CRC-32C of firmware-bridge/schema.txt (tests override it). */
  schemaHash?: number;
}

/** Least time between two ARMs (or repeated ESTOPs) while the device has not shown the flag yet. */
const ARM_RETRY_MS = 25;
/** ESTOP goes out this many times: one lost frame must not leave the robot moving. */
const ESTOP_REPEATS = 3;

function fail(message: string): StriatumError {
  return new StriatumError('STRIATUM_ERR_TRANSPORT', message);
}

export class SerialTransport implements RobotTransport {
  readonly kind = 'serial' as const;
  readonly stepSimulation = null;
  readonly episodes = null;
  /** Round-trip times, COMMAND sent → first STATE naming its seq. */
  readonly rtt = new RttTracker();

  private readonly o: SerialTransportOptions;
  private readonly log: Logger;
  private readonly n: number;
  private readonly watchdogMs: number;
  private readonly healthyGapMs: number;
  private readonly transportStats: TransportStats = emptyTransportStats();
  private readonly reader = new PayloadReader();
  // Two STATEs: a frame is decoded into `incoming` and swapped with `latest` only when it is whole and valid.
  private latest = new SbpState();
  private incoming = new SbpState();
  private latestStampMs = 0;
  private fresh = false;
  private lastStateMs = -Infinity;
  private deviceFlags = 0;
  private haveState = false;
  /** SBP mode of the last command written (-1: none yet), for the final safe command. */
  private lastModeSent = -1;
  private readonly finalTargets: Float64Array;
  private link: SbpLink | null = null;
  private simulatorProcess: SbpSimulator | null = null;
  private closing = false;
  private opened = false;
  // Arming and safety.
  private readonly intent: ArmIntent = { armIntent: false, armThroughLatches: false };
  private localEstop = false;
  private lastArmSentMs = -Infinity;
  private watchdogLatched = false;
  private armWaiters: (() => void)[] = [];
  private stateWaiter: (() => void) | null = null;

  constructor(options: SerialTransportOptions) {
    const n = options.jointNames.length;
    const periodMs = 1000 / options.controlHz;
    const problems: string[] = [];
    if (n < 1 || n > SBP_MAX_JOINTS) problems.push(`the serial protocol carries 1 to ${SBP_MAX_JOINTS} joints, the config has ${n}`);
    const watchdogMs = options.watchdogMs ?? Math.max(20, Math.ceil(3 * periodMs));
    if (!(watchdogMs > periodMs) || watchdogMs > 1000) {
      problems.push(`transport.watchdog_ms: ${watchdogMs} ms must be longer than the control period (${periodMs.toFixed(2)} ms) and at most 1000`);
    }
    if (problems.length > 0) throw new StriatumError('STRIATUM_ERR_CONFIG', 'invalid serial transport options', problems);
    this.o = options;
    this.log = options.logger;
    this.n = n;
    this.watchdogMs = watchdogMs;
    // A command counts toward the healthy stream when it follows the previous one within this gap.
    this.healthyGapMs = Math.min(1000, Math.max(10, 2 * periodMs));
    this.finalTargets = new Float64Array(n);
  }

  // ---- lifecycle -----------------------------------------------------------------------------------------

  /**
   * Open the port (or start the simulator), handshake, configure the firmware's watchdog and wait for the first
   * STATE. Throws STRIATUM_ERR_SERIAL_SCHEMA on a schema mismatch (nothing is actuated), STRIATUM_ERR_CONFIG when
   * the firmware's joint count differs from the config, STRIATUM_ERR_TRANSPORT when the device cannot be reached.
   */
  async open(): Promise<RobotDescription> {
    if (this.opened) throw fail('serial transport is already open');
    this.opened = true;
    this.closing = false;
    let link: SbpLink | null = null;
    try {
      let path = this.o.path;
      if (path === AUTO_SIM_PATH) {
        this.simulatorProcess = await SbpSimulator.start({ args: this.o.simulatorArgs ?? [], onEvent: (e) => this.log.debug('simulator event', { ...e }) });
        path = this.simulatorProcess.ptyPath;
        this.log.info('host simulator started', { pty: path, pid: this.simulatorProcess.pid });
      }
      link = new SbpLink(path, {
        baud: this.o.baud, jointNames: this.o.jointNames, schemaHash: this.o.schemaHash ?? readSchemaHash(),
        handshakeTimeoutMs: this.o.handshakeTimeoutMs, reconnectInitialMs: this.o.reconnectInitialMs, reconnectMaxMs: this.o.reconnectMaxMs,
        watchdogMs: this.watchdogMs, healthyGapMs: this.healthyGapMs, safeMode: this.o.safeMode, logger: this.log,
      }, this.transportStats, {
        state: (nowMs, decoder) => this.stateReceived(nowMs, decoder),
        message: (msg) => this.messageReceived(msg),
        lost: () => { this.deviceFlags = 0; this.fresh = false; },
        reconnected: () => this.rtt.forget(),
      });
      this.link = link;
      this.haveState = false;
      await link.connect();
      if (!(await this.waitUntil(() => this.haveState, this.o.handshakeTimeoutMs))) {
        throw fail(`no STATE from ${path} within ${this.o.handshakeTimeoutMs} ms after the handshake`);
      }
      // The first session may clear latches left by an earlier one: starting the controller is the operator's call.
      this.intent.armIntent = true;
      this.intent.armThroughLatches = true;
      if ((this.deviceFlags & (SBP_FLAG_ESTOPPED | SBP_FLAG_FAULT)) !== 0) {
        this.log.warn('device reports a latched safe state from an earlier session; this session will clear it', { flags: this.deviceFlags });
      }
    } catch (err) {
      await link?.shutdown();
      this.link = null;
      await this.stopSimulator();
      this.opened = false;
      throw err;
    }
    return Object.freeze({
      jointNames: Object.freeze([...this.o.jointNames]),
      extraFields: Object.freeze({}),
      cameras: Object.freeze([]),
      identity: `serial:${link.devicePath} ${link.firmwareId}`.trim(),
      jointLimits: link.firmwareLimits,
    });
  }

  /**
   * Stop commanding and end in the safe state without latching an e-stop: one last safe command (zero velocity,
   * or hold the measured position; nothing in effort mode, where zero effort could drop a load), then silence,
   * so the firmware's watchdog takes the robot to its configured safe state (hold or disable) within watchdog_ms.
   * Waits for a STATE that shows the device disarmed, then releases the port. ESTOP is not sent: it would latch,
   * and the next session would have to clear it. Never throws.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.intent.armIntent = false;
    const link = this.link;
    try {
      if (link !== null && link.phase === 'ready') {
        if (!this.localEstop) this.sendFinalSafeCommand();
        const safe = await this.waitUntil(() => (this.deviceFlags & SBP_FLAG_ARMED) === 0, 2 * this.watchdogMs + 100);
        if (safe) this.log.info('device in its safe state', { flags: this.deviceFlags, safe_mode: this.o.safeMode });
        else this.log.warn('device did not confirm its safe state before the port closed; its watchdog still applies', { flags: this.deviceFlags, watchdog_ms: this.watchdogMs });
      }
    } catch (err) {
      this.log.error('error while making the device safe', { error: String(err) });
    }
    await link?.shutdown();
    await this.stopSimulator();
    this.transportStats.linkUp = false;
    this.fresh = false;
    this.opened = false;
  }

  // ---- the tick ------------------------------------------------------------------------------------------

  readState(into: JointState): boolean {
    if (!this.fresh) return false;
    this.fresh = false;
    const s = this.latest;
    for (let i = 0; i < this.n; i++) {
      into.positions[i] = s.positions[i];
      into.velocities[i] = s.velocities[i];
      into.efforts[i] = s.efforts[i];
    }
    into.stampMs = this.latestStampMs;
    return true;
  }

  writeCommand(command: JointCommand): void {
    // While e-stopped locally nothing is sent until arm(): the device holds its latched safe state.
    if (this.localEstop || this.closing) return;
    const targets = command.targets;
    const link = this.link;
    if (link === null || link.phase !== 'ready' || targets.length < this.n) {
      this.transportStats.droppedFrames++;
      return;
    }
    for (let i = 0; i < this.n; i++) {
      // The firmware refuses non-finite targets and restarts its healthy count: do not send them.
      if (!Number.isFinite(targets[i])) {
        this.transportStats.droppedFrames++;
        return;
      }
    }
    const mode = command.mode === 'position' ? 0 : command.mode === 'velocity' ? 1 : 2;
    this.lastModeSent = mode;
    this.sendCommand(link, mode, targets);
  }

  latestFrame(_camera: string): CameraFrame | null {
    return null;
  }

  /** Latch locally (no commands until arm()) and send ESTOP a few times; the device latches it too. */
  estop(reason: string): void {
    const first = !this.localEstop;
    this.localEstop = true;
    this.intent.armIntent = false;
    this.intent.armThroughLatches = false;
    const link = this.link;
    if (link !== null && link.phase === 'ready') {
      for (let i = 0; i < ESTOP_REPEATS; i++) link.writer.empty(SBP_ESTOP, true);
    }
    if (first) this.log.warn('e-stop sent to the device', { reason, link: link?.phase ?? 'closed' });
  }

  /**
   * Leave the local e-stop latch and resume commands; ARM goes out as soon as the device reports a healthy
   * command stream. Resolves when the device reports ARMED; rejects after handshake_timeout_ms (or 1 s, the
   * longer) if it has not, though the transport keeps trying while the link is up.
   */
  arm(): Promise<void> {
    this.localEstop = false;
    this.intent.armIntent = true;
    this.intent.armThroughLatches = true;
    if ((this.deviceFlags & SBP_FLAG_ARMED) !== 0 && this.link?.phase === 'ready') return Promise.resolve();
    const timeoutMs = Math.max(1000, this.o.handshakeTimeoutMs);
    return new Promise((resolve, reject) => {
      const done = () => { clearTimeout(timer); resolve(); };
      const timer = setTimeout(() => {
        this.armWaiters = this.armWaiters.filter((w) => w !== done);
        reject(fail(`device did not arm within ${timeoutMs} ms (flags 0x${this.deviceFlags.toString(16)}, link ${this.link?.phase ?? 'closed'})`));
      }, timeoutMs);
      this.armWaiters.push(done);
    });
  }

  /**
   * The same counters object on every call (no allocation); read it, do not keep it across ticks. framesIn: sound
   * frames decoded; framesOut: frames handed to the port; crcErrors, resyncs: the decoder's; droppedFrames:
   * commands not sent (link down, write queue full, non-finite target), failed writes, and sound frames whose
   * payload did not decode or did not fit this robot; watchdogTrips: the device's (STATE flag edges and FAULT
   * WATCHDOG, counted once); reconnects: successful ones; rtt: since open(), COMMAND → first STATE naming it;
   * linkUp: handshake done and a STATE within link_timeout_ms.
   */
  stats(): TransportStats {
    const s = this.transportStats;
    const link = this.link;
    if (link !== null) {
      const d = link.decoder.stats;
      s.framesIn = d.frames;
      s.crcErrors = d.crcErrors;
      s.resyncs = d.resyncs;
    }
    s.rttP50Us = this.rtt.histogram.quantile(0.5);
    s.rttP99Us = this.rtt.histogram.quantile(0.99);
    s.linkUp = link !== null && link.phase === 'ready' && performance.now() - this.lastStateMs <= this.o.linkTimeoutMs;
    return s;
  }

  // ---- what the lead and tests read ----------------------------------------------------------------------

  /** Limits the firmware reported in HELLO_ACK, per joint; take the tighter of these and the config's. */
  get jointLimits(): readonly JointLimits[] {
    return this.link?.firmwareLimits ?? [];
  }

  get firmwareId(): string {
    return this.link?.firmwareId ?? '';
  }

  /** STATE.flags of the newest STATE (SBP_FLAG_*). */
  get flags(): number {
    return this.deviceFlags;
  }

  /** The MCU clock of the newest STATE, µs. */
  get mcuTimeUs(): number {
    return this.latest.mcuTimeUs;
  }

  /** last_command_seq of the newest STATE: the seq of the last COMMAND the device accepted. */
  get deviceLastCommandSeq(): number {
    return this.latest.lastCommandSeq;
  }

  get isEstopped(): boolean {
    return this.localEstop;
  }

  /** The pty or device in use (the simulator's pty with auto-sim). */
  get device(): string {
    return this.link?.devicePath ?? this.o.path;
  }

  /** The host simulator started for path auto-sim, else null. */
  get simulator(): SbpSimulator | null {
    return this.simulatorProcess;
  }

  /** The watchdog timeout sent to the firmware at the handshake, ms. */
  get configuredWatchdogMs(): number {
    return this.watchdogMs;
  }

  // ---- inbound ---------------------------------------------------------------------------------------------

  private stateReceived(nowMs: number, dec: FrameDecoder): void {
    const s = this.incoming;
    const code = decodeStateInto(this.reader, dec.body, dec.payloadOffset, dec.payloadLength, s);
    if (code !== SBP_OK || s.jointCount !== this.n || !allFinite(s, this.n)) {
      this.transportStats.droppedFrames++;
      if (this.log.enabled('debug')) {
        this.log.debug('STATE dropped', { reason: code !== SBP_OK ? this.reader.describe('STATE') : s.jointCount !== this.n ? `${s.jointCount} joints, expected ${this.n}` : 'non-finite value' });
      }
      return;
    }
    this.incoming = this.latest;
    this.latest = s;
    this.latestStampMs = nowMs;
    this.lastStateMs = nowMs;
    this.fresh = true;
    this.haveState = true;
    this.rtt.stateReceived(s.lastCommandSeq, nowMs);
    this.flagsChanged(s.flags, nowMs);
    if (this.stateWaiter !== null) this.stateWaiter();
  }

  private flagsChanged(flags: number, nowMs: number): void {
    const before = this.deviceFlags;
    this.deviceFlags = flags;
    if ((flags & SBP_FLAG_WATCHDOG_SAFE) !== 0) {
      if (!this.watchdogLatched) this.watchdogTripped();
    } else {
      this.watchdogLatched = false;
    }
    const armed = (flags & SBP_FLAG_ARMED) !== 0;
    if (armed && (before & SBP_FLAG_ARMED) === 0) {
      this.intent.armThroughLatches = false;
      this.log.info('device armed', { flags });
      const waiters = this.armWaiters;
      this.armWaiters = [];
      for (const w of waiters) w();
    } else if (!armed && (before & SBP_FLAG_ARMED) !== 0 && !this.closing) {
      this.log.warn('device left the armed state', { flags });
    }
    const link = this.link as SbpLink;
    if ((flags & SBP_FLAG_HANDSHAKE_OK) === 0) {
      // The MCU rebooted or dropped our session (a UART has no hang-up): start over, as after a disconnect.
      if (!this.closing) link.restart('the device reports no handshake');
      return;
    }
    if (nowMs - this.lastArmSentMs < ARM_RETRY_MS) return;
    if (this.localEstop) {
      // Never assume the ESTOP arrived: repeat it while the device still reports ARMED.
      if (armed) {
        this.lastArmSentMs = nowMs;
        link.writer.empty(SBP_ESTOP, true);
      }
    } else if (shouldSendArm(flags, this.intent)) {
      this.lastArmSentMs = nowMs;
      link.writer.empty(SBP_ARM, false);
    }
  }

  private watchdogTripped(): void {
    this.watchdogLatched = true;
    this.transportStats.watchdogTrips++;
    if (!this.closing) this.log.warn('device watchdog tripped: commands stopped for longer than watchdog_ms', { watchdog_ms: this.watchdogMs, trips: this.transportStats.watchdogTrips });
  }

  /** Everything but STATE, HELLO_ACK and PARAM_VALUE: FAULTs are logged (and count a watchdog trip once). */
  private messageReceived(msg: SbpMessage): void {
    if (msg.type !== 'FAULT' || this.closing) return; // HEARTBEAT, and host → device types a confused peer echoes
    if (msg.code === SBP_FAULT_WATCHDOG && !this.watchdogLatched) this.watchdogTripped();
    this.log.warn('device fault', { code: msg.code, name: sbpFaultName(msg.code), text: msg.text });
  }

  private waitUntil(done: () => boolean, timeoutMs: number): Promise<boolean> {
    if (done()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.stateWaiter = null; resolve(done()); }, timeoutMs);
      this.stateWaiter = () => {
        if (!done()) return;
        clearTimeout(timer);
        this.stateWaiter = null;
        resolve(true);
      };
    });
  }

  // ---- outbound ------------------------------------------------------------------------------------------

  private sendCommand(link: SbpLink, mode: number, targets: Float64Array): void {
    const seq = link.writer.command(mode, targets);
    if (seq >= 0) this.rtt.commandSent(seq, performance.now());
    else if (this.log.enabled('debug')) this.log.debug('command dropped', { in_flight: link.writer.inFlight });
  }

  private sendFinalSafeCommand(): void {
    const targets = this.finalTargets;
    if (this.lastModeSent === 0) {
      for (let i = 0; i < this.n; i++) targets[i] = this.latest.positions[i]; // hold where the joints are
    } else if (this.lastModeSent === 1) {
      targets.fill(0);
    } else {
      // Effort mode (zero effort could drop a load) or nothing sent yet: leave it to the device's safe state.
      return;
    }
    this.sendCommand(this.link as SbpLink, this.lastModeSent, targets);
  }

  private async stopSimulator(): Promise<void> {
    const sim = this.simulatorProcess;
    if (sim === null) return;
    this.simulatorProcess = null;
    await sim.stop();
    this.log.info('host simulator stopped', { pid: sim.pid });
  }
}

function allFinite(s: SbpState, n: number): boolean {
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(s.positions[i]) || !Number.isFinite(s.velocities[i]) || !Number.isFinite(s.efforts[i])) return false;
  }
  return true;
}
