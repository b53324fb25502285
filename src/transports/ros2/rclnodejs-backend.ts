// The rclnodejs backend: Striatum as a real ROS 2 node (ros2 node list, ros2 topic echo) on a machine with a
// sourced ROS 2 and the optional rclnodejs package. rclnodejs is imported only here, only when chosen.
// Messages cross as serialized CDR (publish(Buffer), isRaw subscriptions), the bytes Striatum's codec makes,
// so both backends share one encoding and the rmw underneath (Cyclone DDS, Fast DDS, Zenoh) does the rest.
import { StriatumError } from '../../errors.js';
import type { Ros2Backend, Ros2BackendOptions, Ros2Publisher, Ros2Qos } from './backend.js';
import type { MessageDef } from './messages.js';

/** The part of rclnodejs this backend uses (its real API; test doubles implement the same shape). */
export interface RclnodejsQosClass {
  new (history: number, depth: number, reliability: number, durability: number): unknown;
  readonly HistoryPolicy: { readonly RMW_QOS_POLICY_HISTORY_KEEP_LAST: number };
  readonly ReliabilityPolicy: { readonly RMW_QOS_POLICY_RELIABILITY_RELIABLE: number; readonly RMW_QOS_POLICY_RELIABILITY_BEST_EFFORT: number };
  readonly DurabilityPolicy: { readonly RMW_QOS_POLICY_DURABILITY_VOLATILE: number; readonly RMW_QOS_POLICY_DURABILITY_TRANSIENT_LOCAL: number };
}
export interface RclnodejsPublisher {
  publish(message: Buffer): void;
  readonly subscriptionCount?: number;
}
export interface RclnodejsNode {
  createPublisher(typeClass: string, topic: string, options: { qos: unknown }): RclnodejsPublisher;
  createSubscription(typeClass: string, topic: string, options: { qos: unknown; isRaw: boolean }, callback: (message: Buffer) => void): unknown;
  spin(): void;
  destroy(): void;
}
export interface RclnodejsModule {
  init(): Promise<void>;
  createNode(name: string, namespace?: string): RclnodejsNode;
  shutdown(): void;
  readonly QoS: RclnodejsQosClass;
}

/** Import rclnodejs, or say why it cannot be used (no sourced ROS 2, not installed, built for another distro). */
export async function loadRclnodejs(): Promise<{ module: RclnodejsModule } | { why: string }> {
  if (process.env.ROS_DISTRO === undefined) return { why: 'ROS_DISTRO is not set (no sourced ROS 2)' };
  try {
    const imported = await import('rclnodejs' as string) as { default?: RclnodejsModule } & RclnodejsModule;
    return { module: imported.default ?? imported };
  } catch (err) {
    return { why: `rclnodejs does not load: ${String((err as Error).message ?? err).split('\n')[0]}` };
  }
}

class RclnodejsPublisherAdapter implements Ros2Publisher {
  readonly prefixBytes = 0;
  readonly inFlight = 0; // rcl publishes synchronously: the buffer is free when publish returns
  constructor(private readonly publisher: RclnodejsPublisher) {}

  get matched(): number {
    return this.publisher.subscriptionCount ?? -1;
  }

  preparePrefix(): void {}

  sendPrefixed(buffer: Buffer): boolean {
    return this.publish(buffer);
  }

  publish(payload: Uint8Array): boolean {
    try {
      this.publisher.publish(Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));
      return true;
    } catch {
      return false;
    }
  }
}

export class RclnodejsBackend implements Ros2Backend {
  readonly name = 'rclnodejs' as const;
  private node: RclnodejsNode | null = null;

  constructor(private readonly rcl: RclnodejsModule, private readonly options: Ros2BackendOptions) {}

  async open(): Promise<string> {
    await this.rcl.init();
    this.node = this.rcl.createNode(this.options.nodeName, this.options.namespace === '' ? undefined : this.options.namespace);
    this.node.spin();
    return `rclnodejs node ${this.options.namespace}/${this.options.nodeName} (ROS_DISTRO=${process.env.ROS_DISTRO ?? '?'}, RMW_IMPLEMENTATION=${process.env.RMW_IMPLEMENTATION ?? 'default'})`;
  }

  publisher(rosTopic: string, def: MessageDef, qos: Ros2Qos): Promise<Ros2Publisher> {
    return Promise.resolve(new RclnodejsPublisherAdapter(this.requireNode().createPublisher(def.rosName, rosTopic, { qos: this.qos(qos) })));
  }

  subscribe(rosTopic: string, def: MessageDef, qos: Ros2Qos, onMessage: (payload: Uint8Array) => void): Promise<void> {
    this.requireNode().createSubscription(def.rosName, rosTopic, { qos: this.qos(qos), isRaw: true }, (message) => onMessage(message));
    return Promise.resolve();
  }

  announceNode(): Promise<void> {
    return Promise.resolve(); // rcl publishes the node's graph information itself
  }

  close(): Promise<void> {
    const node = this.node;
    this.node = null;
    if (node !== null) {
      try {
        node.destroy();
        this.rcl.shutdown();
      } catch {
        // already shut down (e.g. by a signal handler of rclnodejs's own)
      }
    }
    return Promise.resolve();
  }

  private qos(q: Ros2Qos): unknown {
    const Q = this.rcl.QoS;
    return new Q(
      Q.HistoryPolicy.RMW_QOS_POLICY_HISTORY_KEEP_LAST, q.depth,
      q.reliability === 'reliable' ? Q.ReliabilityPolicy.RMW_QOS_POLICY_RELIABILITY_RELIABLE : Q.ReliabilityPolicy.RMW_QOS_POLICY_RELIABILITY_BEST_EFFORT,
      q.durability === 'transient_local' ? Q.DurabilityPolicy.RMW_QOS_POLICY_DURABILITY_TRANSIENT_LOCAL : Q.DurabilityPolicy.RMW_QOS_POLICY_DURABILITY_VOLATILE,
    );
  }

  private requireNode(): RclnodejsNode {
    if (this.node === null) throw new StriatumError('STRIATUM_ERR_TRANSPORT', 'rclnodejs backend is not open');
    return this.node;
  }
}
