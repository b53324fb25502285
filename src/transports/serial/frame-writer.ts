// Outbound frames onto a port without copying and without aliasing: each frame is encoded into one of a few
// fixed slots and stays untouched there until the port's write callback fires. When every slot is still in
// flight the link is not keeping up and a COMMAND is dropped (a queued stale command is worse than none);
// ESTOP is never dropped. One sequence counter for every frame sent, as PROTOCOL.md 6.1 asks.
import type { TransportStats } from '../types.js';
import { encodeCommand, encodeEmpty, encodeMessage, type SbpMessage } from './messages.js';
import { SBP_MAX_FRAME, sbpWireSizeMax } from './protocol.js';

/** What the writer needs of a port (serialport's SerialPort; a fake in tests). */
export interface FramePort {
  write(data: Buffer, callback: (err: Error | null | undefined) => void): unknown;
}

export const TX_SLOTS = 8;

export class FrameWriter {
  /** Writes handed to the port and not yet completed. */
  inFlight = 0;
  private port: FramePort | null = null;
  private readonly slots: Buffer[] = [];
  /** Fixed-length views of the slots: a COMMAND's wire size depends only on the joint count (its body is under
   * 254 bytes, so COBS adds exactly one byte), so writing one allocates no Buffer. */
  private readonly commandViews: Buffer[] = [];
  private nextSlot = 0;
  private seq = 0;
  private readonly onWritten: (err: Error | null | undefined) => void;

  constructor(private readonly jointCount: number, private readonly stats: TransportStats, onWriteError: (err: Error) => void) {
    const commandLength = sbpWireSizeMax(2 + 4 * jointCount);
    for (let i = 0; i < TX_SLOTS; i++) {
      const slot = Buffer.alloc(SBP_MAX_FRAME);
      this.slots.push(slot);
      this.commandViews.push(slot.subarray(0, commandLength));
    }
    // Bound once: the port calls it for every write.
    this.onWritten = (err) => {
      this.inFlight--;
      if (err) {
        this.stats.droppedFrames++;
        onWriteError(err);
      }
    };
  }

  /** Write to this port from now on (null: none; frames are dropped). In-flight writes of an old port still end. */
  attach(port: FramePort | null): void {
    this.port = port;
    if (port === null) this.inFlight = 0;
  }

  /**
   * Encode and write a COMMAND for targets[0, jointCount). Returns its seq, or -1 when dropped (no port, or every
   * slot in flight), counted in droppedFrames. Allocates nothing beyond what the port's write does.
   */
  command(mode: number, targets: Float64Array): number {
    const port = this.port;
    if (port === null || this.inFlight >= TX_SLOTS) {
      this.stats.droppedFrames++;
      return -1;
    }
    const slot = this.takeSlot();
    const seq = this.nextSeq();
    encodeCommand(seq, mode, targets, this.jointCount, this.slots[slot], 0);
    return this.write(port, this.commandViews[slot]) ? seq : -1;
  }

  /** A payload-less frame (ARM, ESTOP, HEARTBEAT). Urgent ones (ESTOP) go out even when every slot is busy. */
  empty(type: number, urgent: boolean): void {
    const port = this.port;
    if (port === null) return;
    if (this.inFlight >= TX_SLOTS) {
      if (!urgent) return;
      const wire = Buffer.alloc(16);
      this.write(port, wire.subarray(0, encodeEmpty(type, this.nextSeq(), wire, 0)));
      return;
    }
    const slot = this.takeSlot();
    const wire = this.slots[slot];
    this.write(port, wire.subarray(0, encodeEmpty(type, this.nextSeq(), wire, 0)));
  }

  /** Any other message (HELLO, PARAM_SET): rare, so it gets its own buffer. msg.seq is set here. */
  message(msg: SbpMessage): void {
    const port = this.port;
    if (port === null) return;
    msg.seq = this.nextSeq();
    const wire = Buffer.alloc(SBP_MAX_FRAME);
    this.write(port, wire.subarray(0, encodeMessage(msg, wire, 0)));
  }

  private takeSlot(): number {
    // Safe to reuse: writes complete in order, and fewer than TX_SLOTS are in flight, so the write that last
    // used this slot (TX_SLOTS slot-writes ago) has completed.
    const slot = this.nextSlot;
    this.nextSlot = (slot + 1) % TX_SLOTS;
    return slot;
  }

  private nextSeq(): number {
    const seq = this.seq;
    this.seq = (seq + 1) & 0xffff;
    return seq;
  }

  private write(port: FramePort, wire: Buffer): boolean {
    try {
      this.inFlight++;
      port.write(wire, this.onWritten);
      this.stats.framesOut++;
      return true;
    } catch {
      this.inFlight--;
      this.stats.droppedFrames++;
      return false;
    }
  }
}
