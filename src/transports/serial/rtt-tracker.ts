// Command → state round-trip time: the send time of each COMMAND seq in a fixed ring, matched when a STATE
// reports it as last_command_seq, into a fixed-size histogram. O(1), allocation-free, no I/O.
import { LatencyHistogram } from '../../util/histogram.js';

/** Seqs remembered; a STATE naming a seq older than this many commands ago is not timed. */
const RING = 1024;

export class RttTracker {
  readonly histogram = new LatencyHistogram();
  private readonly sentMs = new Float64Array(RING);
  /** The seq each slot holds, -1 once timed (so one command is timed once, at its first STATE). */
  private readonly sentSeq = new Int32Array(RING).fill(-1);

  commandSent(seq: number, nowMs: number): void {
    const i = seq & (RING - 1);
    this.sentMs[i] = nowMs;
    this.sentSeq[i] = seq;
  }

  /** A STATE arrived at nowMs reporting lastCommandSeq. Returns the round trip in µs, or -1 if not timed. */
  stateReceived(lastCommandSeq: number, nowMs: number): number {
    const i = lastCommandSeq & (RING - 1);
    if (this.sentSeq[i] !== lastCommandSeq) return -1;
    this.sentSeq[i] = -1;
    const us = (nowMs - this.sentMs[i]) * 1000;
    this.histogram.record(us);
    return us;
  }

  /** Forget send times (a new session: the device's seq numbers start over on our side too). */
  forget(): void {
    this.sentSeq.fill(-1);
  }
}
