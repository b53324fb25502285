// The cyclonedds backend: ros2-bridge's striatum_dds_bridge as a child process, spoken to over its stdin and
// stdout (ros2-bridge/PROTOCOL.md). Topics and types are named as rmw_cyclonedds_cpp names them. The child dies
// with us: it exits when its stdin closes.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { StriatumError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Ros2Backend, Ros2BackendOptions, Ros2Publisher, Ros2Qos } from './backend.js';
import { encodeParticipantEntitiesInfo, ROS_DISCOVERY_TOPIC, ROS_DISCOVERY_TYPE } from './discovery-info.js';
import { ddsTopicName, ddsTypeName, type MessageDef } from './messages.js';

const OP_OPEN_WRITER = 0x57; // 'W'
const OP_OPEN_READER = 0x52; // 'R'
const OP_DATA = 0x44; // 'D'
const OP_QUIT = 0x51; // 'Q'
const OP_HELLO = 0x48; // 'H'
const OP_OPENED = 0x4f; // 'O'
const OP_ERROR = 0x45; // 'E'
const OP_MATCHED = 0x4d; // 'M'
const GENERAL_CHANNEL = 0xffff;
/** u32 length, op, u16 channel. */
export const BRIDGE_FRAME_HEADER_BYTES = 7;
const MAX_CHANNELS = 64;
/** Frames handed to the pipe and not yet written: beyond this a publish is dropped (a queued stale command is worse than none). */
const MAX_IN_FLIGHT = 32;

export function defaultBridgeBinary(): string {
  return process.env.STRIATUM_DDS_BRIDGE ?? fileURLToPath(new URL('../../../../ros2-bridge/build/striatum_dds_bridge', import.meta.url));
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

class BridgePublisher implements Ros2Publisher {
  readonly prefixBytes = BRIDGE_FRAME_HEADER_BYTES;
  matched = 0;
  constructor(private readonly backend: CycloneDdsBackend, readonly channel: number) {}

  get inFlight(): number {
    return this.backend.inFlight;
  }

  preparePrefix(buffer: Buffer, payloadBytes: number): void {
    buffer.writeUInt32LE(3 + payloadBytes, 0);
    buffer[4] = OP_DATA;
    buffer.writeUInt16LE(this.channel, 5);
  }

  sendPrefixed(buffer: Buffer): boolean {
    return this.backend.send(buffer);
  }

  publish(payload: Uint8Array): boolean {
    const frame = Buffer.allocUnsafe(BRIDGE_FRAME_HEADER_BYTES + payload.length);
    this.preparePrefix(frame, payload.length);
    frame.set(payload, BRIDGE_FRAME_HEADER_BYTES);
    return this.backend.send(frame);
  }
}

export class CycloneDdsBackend implements Ros2Backend {
  readonly name = 'cyclonedds' as const;
  inFlight = 0;
  private child: ChildProcess | null = null;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly waiters = new Map<number, { resolve: (guid: Buffer) => void; reject: (err: Error) => void }>();
  private participantGuid: Buffer | null = null;
  private readonly readerGuids: Buffer[] = [];
  private readonly writerGuids: Buffer[] = [];
  private discoveryPublisher: BridgePublisher | null = null;
  private readonly handlers: (((payload: Uint8Array) => void) | null)[] = new Array(MAX_CHANNELS).fill(null);
  private readonly publishers: (BridgePublisher | null)[] = new Array(MAX_CHANNELS).fill(null);
  private nextChannel = 0;
  private helloWaiter: { resolve: (guid: string) => void; reject: (err: Error) => void } | null = null;
  private stderrTail = '';
  private exited = false;
  private readonly onWritten: (err: Error | null | undefined) => void;

  constructor(private readonly options: Ros2BackendOptions & {
    readonly binary: string | null;
    readonly logger: Logger;
    /** Gid size in ros_discovery_info: 16 (Iron, Jazzy, Kilted), 24 (Humble), 0 to publish none. Default 16. */
    readonly discoveryGidBytes?: 0 | 16 | 24;
  }) {
    // Bound once: the pipe calls it for every frame written.
    this.onWritten = (err) => {
      this.inFlight--;
      if (err && !this.exited) this.options.logger.warn('write to the DDS bridge failed', { error: err.message });
    };
  }

  /** Start the bridge and wait for its hello (participant created). */
  async open(): Promise<string> {
    const binary = this.options.binary ?? defaultBridgeBinary();
    if (!existsSync(binary)) {
      throw new StriatumError('STRIATUM_ERR_ROS2_UNAVAILABLE', `the Cyclone DDS bridge is not built (${binary} is missing)`, [
        'build it: cmake -S ros2-bridge -B ros2-bridge/build && cmake --build ros2-bridge/build (Debian: cyclonedds-dev cyclonedds-tools cmake gcc)',
        'or point transport.bridge or STRIATUM_DDS_BRIDGE at a striatum_dds_bridge binary',
      ]);
    }
    const child = spawn(binary, ['--domain', String(this.options.domainId)], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    child.stdin!.on('error', () => undefined); // a dead bridge shows in the exit handler
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      this.stderrTail = (this.stderrTail + d).slice(-2000);
    });
    child.stdout!.on('data', (chunk: Buffer) => this.onBytes(chunk));
    const hello = new Promise<string>((resolve, reject) => { this.helloWaiter = { resolve, reject }; });
    child.once('error', (err) => this.failAll(new StriatumError('STRIATUM_ERR_ROS2_UNAVAILABLE', `the Cyclone DDS bridge could not start: ${err.message}`)));
    child.once('exit', (code, signal) => {
      this.exited = true;
      const tail = this.stderrTail.trim().split('\n').slice(-3);
      this.failAll(new StriatumError('STRIATUM_ERR_TRANSPORT', `the Cyclone DDS bridge exited (${signal ?? `code ${code}`})`, tail));
    });
    const timer = setTimeout(() => this.failAll(new StriatumError('STRIATUM_ERR_ROS2_UNAVAILABLE', 'the Cyclone DDS bridge did not start within 5 s')), 5000);
    try {
      const guid = await hello;
      return `cyclonedds participant ${guid} domain ${this.options.domainId}`;
    } finally {
      clearTimeout(timer);
    }
  }

  get running(): boolean {
    return this.child !== null && !this.exited;
  }

  publisher(rosTopic: string, def: MessageDef, qos: Ros2Qos): Promise<Ros2Publisher> {
    return this.ddsPublisher(ddsTopicName(rosTopic), ddsTypeName(def), qos, true);
  }

  subscribe(rosTopic: string, def: MessageDef, qos: Ros2Qos, onMessage: (payload: Uint8Array) => void): Promise<void> {
    return this.ddsSubscribe(ddsTopicName(rosTopic), ddsTypeName(def), qos, onMessage, true);
  }

  /** A writer on a DDS topic named as it is (no rt/ prefix), e.g. ros_discovery_info. */
  async ddsPublisher(ddsTopic: string, typeName: string, qos: Ros2Qos, ofNode = false): Promise<BridgePublisher> {
    const channel = this.takeChannel();
    const publisher = new BridgePublisher(this, channel);
    this.publishers[channel] = publisher;
    const guid = await this.openEndpoint(OP_OPEN_WRITER, channel, ddsTopic, typeName, qos);
    if (ofNode) this.writerGuids.push(guid);
    return publisher;
  }

  /** A reader on a DDS topic named as it is. */
  async ddsSubscribe(ddsTopic: string, typeName: string, qos: Ros2Qos, onMessage: (payload: Uint8Array) => void, ofNode = false): Promise<void> {
    const channel = this.takeChannel();
    this.handlers[channel] = onMessage;
    const guid = await this.openEndpoint(OP_OPEN_READER, channel, ddsTopic, typeName, qos);
    if (ofNode) this.readerGuids.push(guid);
  }

  /**
   * Publish the node's graph information on ros_discovery_info (rmw_dds_common/msg/ParticipantEntitiesInfo,
   * latched), as rmw_cyclonedds_cpp does, so `ros2 node list` on a Cyclone DDS ROS machine lists this node with its
   * readers and writers. Call after every endpoint of the node is open; no-op with discoveryGidBytes 0.
   */
  async announceNode(): Promise<void> {
    const gidBytes = this.options.discoveryGidBytes ?? 16;
    if (gidBytes === 0 || this.participantGuid === null) return;
    if (this.discoveryPublisher === null) {
      this.discoveryPublisher = await this.ddsPublisher(ROS_DISCOVERY_TOPIC, ROS_DISCOVERY_TYPE, { reliability: 'reliable', durability: 'transient_local', depth: 1 });
    }
    this.discoveryPublisher.publish(encodeParticipantEntitiesInfo({
      gidBytes, participant: this.participantGuid, namespace: this.options.namespace, nodeName: this.options.nodeName,
      readers: this.readerGuids, writers: this.writerGuids,
    }));
  }

  /** Hand a whole frame to the pipe; false (dropped) when too many are still unwritten or the bridge is gone. */
  send(frame: Buffer): boolean {
    const child = this.child;
    if (child === null || this.exited || this.inFlight >= MAX_IN_FLIGHT) return false;
    this.inFlight++;
    child.stdin!.write(frame, this.onWritten);
    return true;
  }

  async close(): Promise<void> {
    const child = this.child;
    if (child === null) return;
    this.child = null;
    if (!this.exited) {
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const quit = Buffer.alloc(BRIDGE_FRAME_HEADER_BYTES);
      quit.writeUInt32LE(3, 0);
      quit[4] = OP_QUIT;
      quit.writeUInt16LE(GENERAL_CHANNEL, 5);
      child.stdin!.end(quit);
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await gone;
      clearTimeout(timer);
    }
  }

  private takeChannel(): number {
    if (this.nextChannel >= MAX_CHANNELS) throw new StriatumError('STRIATUM_ERR_TRANSPORT', `the DDS bridge carries at most ${MAX_CHANNELS} topics`);
    return this.nextChannel++;
  }

  private openEndpoint(op: number, channel: number, ddsTopic: string, typeName: string, qos: Ros2Qos): Promise<Buffer> {
    const topic = Buffer.from(ddsTopic);
    const type = Buffer.from(typeName);
    const body = Buffer.alloc(4 + 2 + topic.length + 2 + type.length);
    body[0] = qos.reliability === 'reliable' ? 1 : 0;
    body[1] = qos.durability === 'transient_local' ? 1 : 0;
    body.writeUInt16LE(qos.depth, 2);
    body.writeUInt16LE(topic.length, 4);
    topic.copy(body, 6);
    body.writeUInt16LE(type.length, 6 + topic.length);
    type.copy(body, 8 + topic.length);
    const frame = Buffer.alloc(BRIDGE_FRAME_HEADER_BYTES + body.length);
    frame.writeUInt32LE(3 + body.length, 0);
    frame[4] = op;
    frame.writeUInt16LE(channel, 5);
    body.copy(frame, BRIDGE_FRAME_HEADER_BYTES);
    const opened = new Promise<Buffer>((resolve, reject) => this.waiters.set(channel, { resolve, reject }));
    if (!this.send(frame)) this.waiters.get(channel)?.reject(new StriatumError('STRIATUM_ERR_TRANSPORT', 'the DDS bridge is not running'));
    return opened;
  }

  private onBytes(chunk: Buffer): void {
    let data = chunk;
    if (this.pendingBytes > 0) {
      this.pending.push(chunk);
      data = Buffer.concat(this.pending, this.pendingBytes + chunk.length);
      this.pending = [];
      this.pendingBytes = 0;
    }
    let at = 0;
    while (data.length - at >= 4) {
      const length = data.readUInt32LE(at);
      if (data.length - at - 4 < length) break;
      this.onFrame(data.subarray(at + 4, at + 4 + length));
      at += 4 + length;
    }
    if (at < data.length) {
      const rest = data.subarray(at);
      this.pending.push(rest);
      this.pendingBytes = rest.length;
    }
  }

  private onFrame(frame: Buffer): void {
    if (frame.length < 3) return;
    const op = frame[0];
    const channel = frame.readUInt16LE(1);
    const body = frame.subarray(3);
    if (op === OP_DATA) {
      const handler = channel < MAX_CHANNELS ? this.handlers[channel] : null;
      if (handler !== null) handler(body);
    } else if (op === OP_MATCHED) {
      const publisher = channel < MAX_CHANNELS ? this.publishers[channel] : null;
      if (publisher !== null && body.length >= 4) publisher.matched = body.readUInt32LE(0);
    } else if (op === OP_OPENED) {
      this.waiters.get(channel)?.resolve(Buffer.from(body));
      this.waiters.delete(channel);
    } else if (op === OP_HELLO) {
      this.participantGuid = Buffer.from(body.subarray(1, 17));
      this.helloWaiter?.resolve(hex(body.subarray(1, 17)));
      this.helloWaiter = null;
    } else if (op === OP_ERROR) {
      const message = body.toString('utf8');
      const waiter = this.waiters.get(channel);
      if (waiter !== undefined) {
        this.waiters.delete(channel);
        waiter.reject(new StriatumError('STRIATUM_ERR_TRANSPORT', `DDS bridge: ${message}`));
      } else {
        this.options.logger.warn('DDS bridge error', { channel, message });
      }
    }
  }

  private failAll(err: Error): void {
    this.helloWaiter?.reject(err);
    this.helloWaiter = null;
    for (const w of this.waiters.values()) w.reject(err);
    this.waiters.clear();
  }
}
