// sensor_msgs/msg/JointState → the config's joints, by name and in any order; joints the config does not name
// are skipped. A message is taken whole or not at all: it is refused when it is not valid CDR, when its
// position (or a non-empty velocity or effort) array differs in length from its names, when a configured joint
// is missing, or when a value of a configured joint is NaN or infinite. Names are compared as UTF-8 bytes
// against the configured names encoded once, so matching builds no strings.
import { CdrReader } from './cdr.js';

export type JointStateRejection = 'malformed' | 'length_mismatch' | 'missing_joint' | 'non_finite';

/** Names beyond this many in one message are refused as malformed (no robot has that many joints). */
const MAX_NAMES = 1024;

export class JointStateMatcher {
  readonly positions: Float64Array;
  readonly velocities: Float64Array;
  readonly efforts: Float64Array;
  /** Header stamp of the last accepted message, seconds. */
  stampS = 0;
  /** The configured joints absent from the last refused message (for the error naming them). */
  readonly missing: string[] = [];
  private readonly names: readonly Uint8Array[];
  /** Message index → configured joint index, or -1. */
  private readonly map = new Int32Array(MAX_NAMES);
  private readonly seen: Uint8Array;
  private readonly scratch: Float64Array;

  constructor(readonly jointNames: readonly string[]) {
    const n = jointNames.length;
    const utf8 = new TextEncoder();
    this.names = jointNames.map((name) => utf8.encode(name));
    this.positions = new Float64Array(n);
    this.velocities = new Float64Array(n);
    this.efforts = new Float64Array(n);
    this.seen = new Uint8Array(n);
    this.scratch = new Float64Array(3 * n);
  }

  /** Decode `payload`; on success the arrays hold the configured joints' values and null is returned. */
  accept(payload: Uint8Array): JointStateRejection | null {
    const n = this.names.length;
    const scratch = this.scratch; // positions | velocities | efforts, committed only when the whole message is good
    try {
      const r = new CdrReader(payload);
      const sec = r.i32();
      const nanosec = r.u32();
      r.stringSpan(); // frame_id
      const count = r.sequenceLength(5, 'JointState.name');
      if (count > MAX_NAMES) return 'malformed';
      this.seen.fill(0);
      for (let i = 0; i < count; i++) this.map[i] = this.matchName(r);
      for (let j = 0; j < n; j++) {
        if (this.seen[j] === 0) return this.noteMissing();
      }
      for (let field = 0; field < 3; field++) {
        const length = r.sequenceLength(8, 'JointState values');
        if (length === 0 && field > 0) {
          for (let j = 0; j < n; j++) scratch[field * n + j] = 0; // velocity and effort may be left empty
          continue;
        }
        if (length !== count) return 'length_mismatch';
        for (let i = 0; i < count; i++) {
          const v = r.f64();
          const j = this.map[i];
          if (j < 0) continue;
          if (!Number.isFinite(v)) return 'non_finite';
          scratch[field * n + j] = v;
        }
      }
      for (let j = 0; j < n; j++) {
        this.positions[j] = scratch[j];
        this.velocities[j] = scratch[n + j];
        this.efforts[j] = scratch[2 * n + j];
      }
      this.stampS = sec + nanosec * 1e-9;
      return null;
    } catch {
      return 'malformed';
    }
  }

  /** Read name i and return the configured joint it names (marking it seen), or -1. */
  private matchName(r: CdrReader): number {
    const span = r.stringSpan();
    const bytes = r.payload;
    for (let j = 0; j < this.names.length; j++) {
      const name = this.names[j];
      if (name.length !== span.length) continue;
      let equal = true;
      for (let k = 0; equal && k < name.length; k++) equal = bytes[span.start + k] === name[k];
      if (equal) {
        if (this.seen[j] !== 0) return -1; // a joint named twice: the first one counts
        this.seen[j] = 1;
        return j;
      }
    }
    return -1;
  }

  private noteMissing(): 'missing_joint' {
    this.missing.length = 0;
    for (let j = 0; j < this.names.length; j++) if (this.seen[j] === 0) this.missing.push(this.jointNames[j]);
    return 'missing_joint';
  }
}
