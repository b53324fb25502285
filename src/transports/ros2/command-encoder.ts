// Commands onto the wire without allocating: the message is laid out once (its size depends only on the joint
// count), copied into a few reusable send buffers, and each tick writes just the target values in place. The
// buffers rotate like the serial FrameWriter's: one is reused only after the middleware finished with it.
// forward_command: std_msgs/msg/Float64MultiArray with an empty layout (forward_command_controller reads data
// only); joint_trajectory: trajectory_msgs/msg/JointTrajectory with one point reached at time_from_start = the
// control period, the targets in positions, velocities or effort by the command mode.
import type { CommandMode } from '../types.js';
import type { Ros2Publisher } from './backend.js';
import { CdrWriter } from './cdr.js';

export type CommandInterface = 'forward_command' | 'joint_trajectory';

const SLOTS = 8;

export interface CommandLayout {
  /** The encoded message with zero targets. */
  readonly payload: Uint8Array;
  /** Offset of the first target in the payload; target j is the float64 at offset + 8·j. */
  readonly targetsOffset: number;
}

export function commandLayout(kind: CommandInterface, jointNames: readonly string[], mode: CommandMode, periodS: number): CommandLayout {
  const w = new CdrWriter();
  const zeros = new Float64Array(jointNames.length);
  let offset: number;
  if (kind === 'forward_command') {
    w.u32(0).u32(0); // layout: no dimensions, data_offset 0
    offset = w.f64SequenceAt(zeros);
  } else {
    w.i32(0).u32(0).string(''); // header: stamp 0 = start now; no frame
    w.stringSequence(jointNames);
    w.u32(1); // one point
    const fields: CommandMode[] = ['position', 'velocity', 'effort'];
    offset = -1;
    for (const field of ['position', 'velocity', 'acceleration', 'effort'] as const) {
      if (fields.includes(field as CommandMode) && field === mode) offset = w.f64SequenceAt(zeros);
      else w.u32(0);
    }
    const sec = Math.floor(periodS);
    w.i32(sec).u32(Math.round((periodS - sec) * 1e9));
  }
  const payload = w.finish().slice();
  return { payload, targetsOffset: offset };
}

export class CommandEncoder {
  /** Commands dropped because the middleware had every buffer still in flight. */
  dropped = 0;
  private readonly slots: Buffer[] = [];
  private readonly offset: number;
  private next = 0;

  constructor(private readonly publisher: Ros2Publisher, layout: CommandLayout, private readonly jointCount: number) {
    const prefix = publisher.prefixBytes;
    for (let i = 0; i < SLOTS; i++) {
      const slot = Buffer.alloc(prefix + layout.payload.length);
      publisher.preparePrefix(slot, layout.payload.length);
      slot.set(layout.payload, prefix);
      this.slots.push(slot);
    }
    this.offset = prefix + layout.targetsOffset;
  }

  /** Publish targets[0, jointCount); false when dropped. Allocates nothing beyond what the pipe's write does. */
  send(targets: Float64Array): boolean {
    if (this.publisher.inFlight >= SLOTS) {
      this.dropped++;
      return false;
    }
    // Safe to reuse: fewer than SLOTS sends are in flight and they complete in order.
    const slot = this.slots[this.next];
    this.next = (this.next + 1) % SLOTS;
    for (let j = 0; j < this.jointCount; j++) slot.writeDoubleLE(targets[j], this.offset + 8 * j);
    const sent = this.publisher.sendPrefixed(slot);
    if (!sent) this.dropped++;
    return sent;
  }
}
