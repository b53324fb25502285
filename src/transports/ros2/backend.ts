// What the ROS 2 transport needs of a middleware: publishers and subscriptions that move CDR payloads
// (encapsulation header included) on ROS topics with given QoS. Two implementations: Cyclone DDS through
// ros2-bridge (cyclonedds-backend.ts) and a sourced ROS 2 through rclnodejs (rclnodejs-backend.ts). The codec
// is Striatum's own (messages.ts), so both put the same bytes on the wire.
import type { MessageDef } from './messages.js';

export interface Ros2Qos {
  readonly reliability: 'reliable' | 'best_effort';
  readonly durability: 'volatile' | 'transient_local';
  readonly depth: number;
}

export type Ros2BackendName = 'cyclonedds' | 'rclnodejs';

export interface Ros2Publisher {
  /**
   * Bytes the backend keeps in front of each payload it is given with sendPrefixed (its frame header), so a
   * caller can encode straight into a reusable buffer. 0 when the backend needs none.
   */
  readonly prefixBytes: number;
  /** Fill the prefix of a buffer made for this publisher once, for a payload of `payloadBytes`; sendPrefixed then reuses it. */
  preparePrefix(buffer: Buffer, payloadBytes: number): void;
  /**
   * Publish buffer[prefixBytes…] (a prepared buffer). The buffer must stay untouched until `inFlight` has dropped
   * below the count it had when sent; returns false when the payload was dropped (backend not keeping up or gone).
   */
  sendPrefixed(buffer: Buffer): boolean;
  /** Publish one payload (copied or written before returning). */
  publish(payload: Uint8Array): boolean;
  /** Sends handed to the middleware and not yet completed. */
  readonly inFlight: number;
  /** Subscriptions matched on the other side (discovery), when the backend knows; -1 otherwise. */
  readonly matched: number;
}

export interface Ros2Backend {
  readonly name: Ros2BackendName;
  /** Start the middleware; resolves with a line for logs (e.g. "cyclonedds 0.10 participant 0110…"). */
  open(): Promise<string>;
  publisher(rosTopic: string, def: MessageDef, qos: Ros2Qos): Promise<Ros2Publisher>;
  /** `onMessage` gets each payload; the view is valid only during the call. */
  subscribe(rosTopic: string, def: MessageDef, qos: Ros2Qos, onMessage: (payload: Uint8Array) => void): Promise<void>;
  /** Tell the ROS graph about the node and its endpoints, once they are all open (rcl does this for rclnodejs). */
  announceNode(): Promise<void>;
  close(): Promise<void>;
}

export interface Ros2BackendOptions {
  readonly nodeName: string;
  readonly namespace: string;
  readonly domainId: number;
}
