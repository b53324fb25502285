// The transmit side without a port: slots are never overwritten while in flight, a full queue drops commands
// but never ESTOP, every frame takes the next seq; and the arming rule (when the host may send ARM).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { shouldSendArm } from '../src/transports/serial/arming.js';
import { FrameDecoder, RX_FRAME } from '../src/transports/serial/frame-decoder.js';
import { FrameWriter, TX_SLOTS, type FramePort } from '../src/transports/serial/frame-writer.js';
import { decodeMessage } from '../src/transports/serial/messages.js';
import {
  SBP_ESTOP, SBP_FLAG_ARMED, SBP_FLAG_ESTOPPED, SBP_FLAG_FAULT, SBP_FLAG_STREAM_HEALTHY, SBP_FLAG_WATCHDOG_SAFE,
} from '../src/transports/serial/protocol.js';
import { emptyTransportStats } from '../src/transports/types.js';

/** A port that holds every write until complete() is called, and keeps what the buffer held at write time. */
class HeldPort implements FramePort {
  readonly pending: { data: Buffer; copy: Buffer; done: (err: Error | null) => void }[] = [];
  write(data: Buffer, done: (err: Error | null) => void): boolean {
    this.pending.push({ data, copy: Buffer.from(data), done });
    return true;
  }
  complete(n = this.pending.length, err: Error | null = null): void {
    for (const w of this.pending.splice(0, n)) {
      assert.deepEqual(w.data, w.copy, 'a slot was overwritten while its write was in flight');
      w.done(err);
    }
  }
}

function decodeAll(writes: Buffer[]) {
  const dec = new FrameDecoder();
  const out = [];
  for (const w of writes) {
    dec.feed(w);
    for (let rx = dec.next(); rx !== 0; rx = dec.next()) {
      if (rx === RX_FRAME) out.push(decodeMessage(dec.type, dec.seq, dec.body, dec.payloadOffset, dec.payloadLength));
    }
  }
  return out;
}

test('commands fill the slots, then drop; completions free them; seqs count every frame', () => {
  const stats = emptyTransportStats();
  const port = new HeldPort();
  const w = new FrameWriter(3, stats, () => undefined);
  const targets = Float64Array.of(1, 2, 3);
  assert.equal(w.command(0, targets), -1, 'no port: dropped');
  assert.equal(stats.droppedFrames, 1);
  w.attach(port);
  const seqs: number[] = [];
  for (let i = 0; i < TX_SLOTS; i++) { targets[0] = i; seqs.push(w.command(1, targets)); }
  assert.deepEqual(seqs, [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.equal(w.command(1, targets), -1, 'every slot in flight: dropped');
  assert.equal(stats.droppedFrames, 2);
  w.empty(SBP_ESTOP, true); // ESTOP goes out anyway
  assert.equal(w.inFlight, TX_SLOTS + 1);
  port.complete(3);
  targets[0] = 42;
  assert.equal(w.command(1, targets), 9);
  w.message({ type: 'PARAM_SET', seq: 0, id: 1, value: 25 });
  const frames = decodeAll(port.pending.map((p) => p.copy));
  port.complete();
  assert.equal(w.inFlight, 0);
  assert.equal(stats.framesOut, TX_SLOTS + 3);
  assert.deepEqual(frames.map((f) => [f.type, f.seq]), [
    ['COMMAND', 3], ['COMMAND', 4], ['COMMAND', 5], ['COMMAND', 6], ['COMMAND', 7], ['ESTOP', 8], ['COMMAND', 9], ['PARAM_SET', 10],
  ]);
  assert.deepEqual((frames[0] as { targets: number[] }).targets, [3, 2, 3]);
  assert.deepEqual((frames[6] as { targets: number[] }).targets, [42, 2, 3]);
});

test('a failed write is counted and reported; a throwing port never throws out of the writer', () => {
  const stats = emptyTransportStats();
  const errors: string[] = [];
  const port = new HeldPort();
  const w = new FrameWriter(2, stats, (e) => errors.push(e.message));
  w.attach(port);
  w.command(0, Float64Array.of(0, 0));
  port.complete(1, new Error('EIO'));
  assert.deepEqual(errors, ['EIO']);
  assert.equal(stats.droppedFrames, 1);
  w.attach({ write: () => { throw new Error('Port is not open'); } });
  assert.equal(w.command(0, Float64Array.of(0, 0)), -1);
  assert.equal(stats.droppedFrames, 2);
  assert.equal(w.inFlight, 0);
});

test('arming: never while armed or unhealthy or unwanted; through latches only when allowed', () => {
  const H = SBP_FLAG_STREAM_HEALTHY;
  const want = { armIntent: true, armThroughLatches: false };
  assert.equal(shouldSendArm(H, want), true, 'a new session after a reconnect');
  assert.equal(shouldSendArm(H | SBP_FLAG_WATCHDOG_SAFE, want), true, 'after a watchdog trip');
  assert.equal(shouldSendArm(0, want), false, 'stream not healthy yet');
  assert.equal(shouldSendArm(H | SBP_FLAG_ARMED, want), false, 'already armed');
  assert.equal(shouldSendArm(H | SBP_FLAG_ESTOPPED, want), false, 'a device-side e-stop needs an operator');
  assert.equal(shouldSendArm(H | SBP_FLAG_FAULT, want), false, 'a firmware fault needs an operator');
  assert.equal(shouldSendArm(H | SBP_FLAG_ESTOPPED, { armIntent: true, armThroughLatches: true }), true, 'open() or arm()');
  assert.equal(shouldSendArm(H, { armIntent: false, armThroughLatches: true }), false, 'after estop() or close()');
});
