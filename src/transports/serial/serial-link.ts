// One SBP session with a device over serialport: open the port, flush, HELLO until HELLO_ACK, check the schema
// hash and joint count, configure the watchdog parameters; on loss, reconnect with exponential backoff and do it
// all again. Frames go out through a FrameWriter; sound frames come in to the owner's callbacks. What the
// robot does with them (state, arming, e-stop) is the transport's business (serial-transport.ts).
// serialport opens, locks and configures the device (baud, raw termios); bytes then move through a tty stream
// on the event loop when the device is a tty (tty-stream.ts), else through serialport's own read and write.
import { SerialPort } from 'serialport';
import { StriatumError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { JointLimits, TransportStats } from '../types.js';
import { FrameDecoder, RX_DROPPED, RX_PENDING } from './frame-decoder.js';
import { FrameWriter } from './frame-writer.js';
import { decodeMessage, type SbpHelloAck, type SbpMessage, type SbpParamValue } from './messages.js';
import {
  SBP_PARAM_HEALTHY_MAX_GAP_MS, SBP_PARAM_SAFE_MODE, SBP_PARAM_WATCHDOG_TIMEOUT_MS, SBP_PROTOCOL_VERSION, SBP_STATE,
} from './protocol.js';
import { hex32 } from './sbp-error.js';
import { openTtyStream, type TtyStream } from './tty-stream.js';

export type LinkPhase = 'closed' | 'handshake' | 'ready';

export interface SbpLinkOptions {
  baud: number;
  jointNames: readonly string[];
  schemaHash: number;
  handshakeTimeoutMs: number;
  reconnectInitialMs: number;
  reconnectMaxMs: number;
  /** Firmware parameters set at every handshake. */
  watchdogMs: number;
  healthyGapMs: number;
  safeMode: 'hold' | 'disable';
  logger: Logger;
}

export interface SbpLinkHandlers {
  /** A sound STATE frame is in the decoder (only while ready); nowMs is its arrival time. */
  state(nowMs: number, decoder: FrameDecoder): void;
  /** Any other message that decoded, after the link took what it needs (HELLO_ACK, PARAM_VALUE). */
  message(msg: SbpMessage): void;
  /** The session ended (port closed or errored, or restart()): what was known of the device is stale. */
  lost(): void;
  /** A reconnect finished its handshake: the device starts a new session, disarmed. */
  reconnected(): void;
}

const PARAM_RESULTS = ['OK', 'UNKNOWN_ID', 'OUT_OF_RANGE', 'REFUSED_WHILE_ARMED'];
/** PARAM_SETs sent for one parameter before the start fails; spread over the handshake timeout. */
export const PARAM_SET_ATTEMPTS = 4;

function fail(message: string, details: readonly string[] = []): StriatumError {
  return new StriatumError('STRIATUM_ERR_TRANSPORT', message, details);
}

export class SbpLink {
  readonly decoder = new FrameDecoder();
  readonly writer: FrameWriter;
  phase: LinkPhase = 'closed';
  /** Limits from the last HELLO_ACK, per joint. */
  firmwareLimits: readonly JointLimits[] = [];
  firmwareId = '';
  /** PARAM_SETs sent again because no PARAM_VALUE came back in time, over every handshake of this link. */
  paramResends = 0;
  /** Where the device is; the owner may set it before connect() (the simulator's pty). */
  devicePath: string;

  private readonly o: SbpLinkOptions;
  private readonly log: Logger;
  private port: SerialPort | null = null;
  /** The byte path beside `port` when the device is a tty; null: serialport reads and writes. */
  private tty: TtyStream | null = null;
  private readonly onData: (chunk: Buffer) => void;
  private pendingAck: ((ack: SbpHelloAck) => void) | null = null;
  private pendingParam: ((value: SbpParamValue) => void) | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private backoffMs: number;
  /** After connect() succeeded once: losses are reconnected. Off again in shutdown(). */
  private keepAlive = false;
  /** A reconnect found other firmware or another robot: never again. */
  private refused = false;

  constructor(devicePath: string, options: SbpLinkOptions, private readonly stats: TransportStats, private readonly handlers: SbpLinkHandlers) {
    this.devicePath = devicePath;
    this.o = options;
    this.log = options.logger;
    this.backoffMs = options.reconnectInitialMs;
    this.writer = new FrameWriter(options.jointNames.length, stats, (err) => {
      if (this.log.enabled('debug')) this.log.debug('write failed', { error: err.message });
    });
    // Bound once: serialport calls it for every data event.
    this.onData = (chunk) => this.received(chunk);
  }

  /**
   * Open, handshake and configure. Throws STRIATUM_ERR_SERIAL_SCHEMA on a schema mismatch, STRIATUM_ERR_CONFIG
   * when the joint count differs, STRIATUM_ERR_TRANSPORT when the device cannot be reached or does not answer.
   */
  async connect(): Promise<void> {
    const port = new SerialPort({ path: this.devicePath, baudRate: this.o.baud, autoOpen: false });
    try {
      await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    } catch (err) {
      throw fail(`cannot open serial device ${this.devicePath}: ${(err as Error).message}`);
    }
    this.port = port;
    port.on('close', (err: Error | null) => this.lost(port, err ? `port closed: ${err.message}` : 'port closed'));
    port.on('error', (err: Error) => this.lost(port, `port error: ${err.message}`));
    try {
      // PROTOCOL.md 6.2: flush input after opening, so the session starts on fresh frames.
      await new Promise<void>((resolve) => port.flush(() => resolve()));
      if (this.port !== port) throw fail(`serial device ${this.devicePath} closed while opening`);
      this.phase = 'handshake';
      this.decoder.reset();
      const tty = openTtyStream(this.devicePath);
      this.tty = tty;
      if (tty !== null) {
        tty.stream.on('error', (err: Error) => this.lost(port, `device error: ${err.message}`));
        tty.stream.on('close', () => this.lost(port, 'device closed'));
        tty.stream.on('data', this.onData);
        this.writer.attach(tty.stream);
      } else {
        port.on('data', this.onData);
        this.writer.attach(port);
      }
      this.checkAck(await this.hello());
      await this.setParam(SBP_PARAM_WATCHDOG_TIMEOUT_MS, 'WATCHDOG_TIMEOUT_MS', this.o.watchdogMs);
      await this.setParam(SBP_PARAM_HEALTHY_MAX_GAP_MS, 'HEALTHY_MAX_GAP_MS', this.o.healthyGapMs);
      await this.setParam(SBP_PARAM_SAFE_MODE, 'SAFE_MODE', this.o.safeMode === 'disable' ? 1 : 0);
    } catch (err) {
      this.detach(port, true);
      throw err;
    }
    this.phase = 'ready';
    this.keepAlive = true;
    this.log.info('serial link ready', {
      device: this.devicePath, firmware: this.firmwareId, joints: this.o.jointNames.length, schema_hash: hex32(this.o.schemaHash),
      watchdog_ms: this.o.watchdogMs, healthy_gap_ms: this.o.healthyGapMs, safe_mode: this.o.safeMode, param_resends: this.paramResends,
    });
  }

  /** Drop the session and start over (the device lost the handshake: an MCU reset on a UART has no hang-up). */
  restart(why: string): void {
    if (this.port !== null) this.detach(this.port, true);
    this.handlers.lost();
    this.log.warn('serial session restarted', { device: this.devicePath, why });
    this.scheduleReconnect();
  }

  /** Stop reconnecting, let queued bytes out and close the port. Never throws. */
  async shutdown(): Promise<void> {
    this.keepAlive = false;
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const port = this.port;
    if (port === null) return;
    const tty = this.tty;
    if (tty !== null && tty.stream.writableLength > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 500);
        tty.stream.once('drain', () => { clearTimeout(timer); resolve(); });
      });
    }
    this.detach(port);
    if (!port.isOpen) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 500);
      port.drain(() => port.close(() => { clearTimeout(timer); resolve(); }));
    });
  }

  // ---- handshake ---------------------------------------------------------------------------------------------

  /** HELLO, resent every quarter of the timeout (a booting MCU may miss the first), until HELLO_ACK. */
  private hello(): Promise<SbpHelloAck> {
    const timeoutMs = this.o.handshakeTimeoutMs;
    return new Promise((resolve, reject) => {
      const send = () => this.writer.message({ type: 'HELLO', seq: 0, protocolVersion: SBP_PROTOCOL_VERSION, schemaHash: this.o.schemaHash });
      const resend = setInterval(send, Math.max(50, timeoutMs / 4));
      const timer = setTimeout(() => {
        clearInterval(resend);
        this.pendingAck = null;
        reject(fail(`no HELLO_ACK from ${this.devicePath} within ${timeoutMs} ms (handshake_timeout_ms)`, ['is the firmware running and speaking SBP on this port?']));
      }, timeoutMs);
      this.pendingAck = (ack) => {
        clearInterval(resend);
        clearTimeout(timer);
        this.pendingAck = null;
        resolve(ack);
      };
      send();
    });
  }

  private checkAck(ack: SbpHelloAck): void {
    const id = ack.firmwareId || '(no id)';
    if (ack.protocolVersion !== SBP_PROTOCOL_VERSION || ack.schemaHash !== this.o.schemaHash) {
      throw new StriatumError('STRIATUM_ERR_SERIAL_SCHEMA',
        `firmware schema hash ${hex32(ack.schemaHash)} (protocol ${ack.protocolVersion}) does not match this host's ${hex32(this.o.schemaHash)} (protocol ${SBP_PROTOCOL_VERSION}); refusing to actuate`,
        [`firmware: ${id} on ${this.devicePath}`, 'build the firmware and Striatum from the same firmware-bridge/schema.txt']);
    }
    const n = this.o.jointNames.length;
    if (ack.limits.length !== n) {
      throw new StriatumError('STRIATUM_ERR_CONFIG', `firmware ${id} reports ${ack.limits.length} joints, the config has ${n}`, [`joints: ${this.o.jointNames.join(', ')}`]);
    }
    this.firmwareLimits = Object.freeze(ack.limits.map((l) => Object.freeze({ positionMin: l.posMin, positionMax: l.posMax, velocityMax: l.velMax, effortMax: l.effortMax })));
    this.firmwareId = ack.firmwareId;
  }

  /**
   * PARAM_SET until its PARAM_VALUE arrives, at most PARAM_SET_ATTEMPTS times within the handshake timeout: a
   * reply lost to line noise must not fail the start. PARAM_SET is idempotent, so a late reply to an earlier
   * attempt is as good as the last one's.
   */
  private setParam(id: number, name: string, value: number): Promise<void> {
    const timeoutMs = this.o.handshakeTimeoutMs;
    return new Promise((resolve, reject) => {
      let attempts = 0;
      const send = () => {
        if (attempts === PARAM_SET_ATTEMPTS) {
          this.pendingParam = null;
          reject(fail(`no PARAM_VALUE for ${name} from ${this.devicePath}: ${attempts} PARAM_SETs within ${timeoutMs} ms (handshake_timeout_ms) went unanswered`,
            ['is the link losing frames? the stats show crc_errors and resyncs']));
          return;
        }
        if (attempts > 0) this.paramResends++;
        attempts++;
        this.writer.message({ type: 'PARAM_SET', seq: 0, id, value });
        timer = setTimeout(send, Math.max(50, timeoutMs / PARAM_SET_ATTEMPTS));
      };
      let timer: NodeJS.Timeout | null = null;
      this.pendingParam = (reply) => {
        if (reply.id !== id) return;
        if (timer !== null) clearTimeout(timer);
        this.pendingParam = null;
        if (reply.result === 0) resolve();
        else reject(fail(`firmware refused PARAM_SET ${name} = ${value}: ${PARAM_RESULTS[reply.result] ?? reply.result} (value in effect: ${reply.value})`));
      };
      send();
    });
  }

  // ---- loss and reconnect ------------------------------------------------------------------------------------

  private lost(port: SerialPort, why: string): void {
    if (port !== this.port) return;
    const wasReady = this.phase === 'ready';
    this.detach(port);
    if (!this.keepAlive) return;
    this.handlers.lost();
    this.log.warn('serial link lost', { device: this.devicePath, why, was_ready: wasReady, reconnect_in_ms: this.backoffMs });
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (!this.keepAlive || this.refused || this.reconnectTimer !== null) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.o.reconnectMaxMs, this.backoffMs * 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect().then(() => {
        if (!this.keepAlive) return;
        this.stats.reconnects++;
        this.backoffMs = this.o.reconnectInitialMs;
        this.log.info('serial link re-established', { device: this.devicePath, reconnects: this.stats.reconnects });
        this.handlers.reconnected();
      }, (err: unknown) => {
        if (err instanceof StriatumError && err.code !== 'STRIATUM_ERR_TRANSPORT') {
          // Other firmware or another robot on the port: never actuate it; a restart with the right config is needed.
          this.refused = true;
          this.log.error('serial reconnect refused for good', { error: err.message, details: err.details });
          return;
        }
        this.log.debug('serial reconnect failed', { error: (err as Error).message, retry_in_ms: this.backoffMs });
        this.scheduleReconnect();
      });
    }, delay);
    this.reconnectTimer.unref(); // retrying never keeps a process alive on its own
  }

  /** Forget the port: listeners off, pending replies dropped; close it when asked (and still open). */
  private detach(port: SerialPort, closeIt = false): void {
    port.off('data', this.onData);
    if (this.tty !== null && this.port === port) {
      this.tty.close();
      this.tty = null;
    }
    port.removeAllListeners('close');
    port.removeAllListeners('error');
    port.on('error', () => undefined); // late errors of a dropped port must not crash the process
    if (closeIt && port.isOpen) port.close(() => undefined);
    if (this.port === port) {
      this.port = null;
      this.writer.attach(null);
    }
    this.phase = 'closed';
    this.pendingAck = null;
    this.pendingParam = null;
  }

  // ---- inbound -----------------------------------------------------------------------------------------------

  private received(chunk: Buffer): void {
    const nowMs = performance.now();
    const dec = this.decoder;
    dec.feed(chunk);
    for (let rx = dec.next(); rx !== RX_PENDING; rx = dec.next()) {
      if (rx === RX_DROPPED) {
        if (this.log.enabled('debug')) this.log.debug('frame dropped', { reason: dec.errorName, detail: dec.describeError() });
      } else if (dec.type === SBP_STATE) {
        // Before the handshake the joint count is not known to match: STATE counts only once ready.
        if (this.phase === 'ready') this.handlers.state(nowMs, dec);
      } else {
        this.messageReceived();
      }
    }
  }

  /** Everything but STATE: rare, so it may allocate. */
  private messageReceived(): void {
    const dec = this.decoder;
    let msg: SbpMessage;
    try {
      msg = decodeMessage(dec.type, dec.seq, dec.body, dec.payloadOffset, dec.payloadLength);
    } catch (err) {
      this.stats.droppedFrames++;
      if (this.log.enabled('debug')) this.log.debug('message dropped', { error: (err as Error).message });
      return;
    }
    if (msg.type === 'HELLO_ACK') this.pendingAck?.(msg);
    else if (msg.type === 'PARAM_VALUE') this.pendingParam?.(msg);
    else this.handlers.message(msg);
  }
}
