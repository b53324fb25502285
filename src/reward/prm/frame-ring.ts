// Camera frames shared with PRM workers through a SharedArrayBuffer, one ring per camera. The control thread
// writes, any number of workers read the newest frame; neither side ever waits for the other.
//
// Slots: K = readers + 2 frame slots plus one start slot (the episode's first frame). Each slot has a state word:
//   0 free · −1 being written · > 0 a bit mask of the readers holding it.
// Writer: claims a slot that is not the latest and is free (CAS 0 → −1), copies the frame, stamps it with the
//   next sequence number, frees it and publishes it as the latest. Each reader holds at most one slot at a time,
//   so with K = readers + 2 a free slot always exists; if not (a reader leaked one), the frame is dropped and
//   counted, never waited for.
// Reader: loads the latest index and sets its bit with CAS (only on a state ≥ 0, i.e. not being written); if the
//   CAS loses a race it retries on the new latest. Holding the slot it reads seq, stamp, episode and pixels, then
//   clears its bit. A slot is never rewritten while any bit is set, so a reader never sees a torn frame.
// A worker that dies holding a slot is cleaned up by its host with releaseAll(reader): the bit mask makes that
// exact and idempotent (a count could not tell whether the dead reader had already incremented it).
//
// Every synchronizing access is an Atomics operation (sequentially consistent), which orders the plain pixel
// copies before and after it.

const HEADER_INTS = 8;
const H_LATEST = 0; // index of the newest complete slot, −1 before the first frame
const H_SEQ = 1; // frames written
const H_DROPPED = 2; // frames dropped for want of a free slot
const H_START_EPISODE = 3; // episode of the frame in the start slot, 0 when none
const WRITING = -1;

export interface FrameRingShape {
  readonly camera: string;
  readonly width: number;
  readonly height: number;
  /** Frame slots (excluding the start slot). */
  readonly slots: number;
}

/** What crosses to a worker: the buffer and its shape. */
export interface FrameRingDescriptor extends FrameRingShape {
  readonly buffer: SharedArrayBuffer;
}

export class FrameRing {
  readonly camera: string;
  readonly width: number;
  readonly height: number;
  readonly frameBytes: number;
  readonly slots: number;
  readonly buffer: SharedArrayBuffer;
  private readonly header: Int32Array;
  /** Per slot (start slot last): state, seq, episode. */
  private readonly states: Int32Array;
  private readonly seqs: Int32Array;
  private readonly episodes: Int32Array;
  private readonly stamps: Float64Array;
  private readonly pixels: Uint8Array[];
  // Writer-side memory of the frame last written, so the same reused frame object is not copied twice.
  private lastStampMs = Number.NaN;

  /** A new ring for a camera read by `readers` workers (at most 31). */
  static create(camera: string, width: number, height: number, readers: number): FrameRing {
    if (!Number.isInteger(readers) || readers < 1 || readers > 31) throw new RangeError(`frame ring ${camera}: readers must be 1..31, got ${readers}`);
    const slots = readers + 2;
    const buffer = new SharedArrayBuffer(FrameRing.byteLength(width, height, slots));
    const ring = new FrameRing({ camera, width, height, slots, buffer });
    Atomics.store(ring.header, H_LATEST, -1);
    return ring;
  }

  static byteLength(width: number, height: number, slots: number): number {
    const all = slots + 1;
    const ints = HEADER_INTS + 3 * all;
    const metaBytes = Math.ceil((ints * 4) / 8) * 8 + 8 * all;
    return metaBytes + all * width * height * 3;
  }

  /** Attach to an existing ring (in a worker, from the descriptor posted to it). */
  constructor(d: FrameRingDescriptor) {
    this.camera = d.camera;
    this.width = d.width;
    this.height = d.height;
    this.slots = d.slots;
    this.buffer = d.buffer;
    this.frameBytes = d.width * d.height * 3;
    const all = d.slots + 1;
    this.header = new Int32Array(d.buffer, 0, HEADER_INTS);
    this.states = new Int32Array(d.buffer, HEADER_INTS * 4, all);
    this.seqs = new Int32Array(d.buffer, (HEADER_INTS + all) * 4, all);
    this.episodes = new Int32Array(d.buffer, (HEADER_INTS + 2 * all) * 4, all);
    const stampsAt = Math.ceil(((HEADER_INTS + 3 * all) * 4) / 8) * 8;
    this.stamps = new Float64Array(d.buffer, stampsAt, all);
    const pixelsAt = stampsAt + 8 * all;
    this.pixels = [];
    for (let s = 0; s < all; s++) this.pixels.push(new Uint8Array(d.buffer, pixelsAt + s * this.frameBytes, this.frameBytes));
  }

  get descriptor(): FrameRingDescriptor {
    return { camera: this.camera, width: this.width, height: this.height, slots: this.slots, buffer: this.buffer };
  }

  /** Index of the start slot. */
  get startSlot(): number {
    return this.slots;
  }

  get framesWritten(): number {
    return Atomics.load(this.header, H_SEQ);
  }

  get framesDropped(): number {
    return Atomics.load(this.header, H_DROPPED);
  }

  // ── writer (one thread) ────────────────────────────────────────────────────────────────────────────────

  /**
   * Copy a frame in, tagged with the episode it belongs to. A frame with the stamp of the last one written is
   * skipped (transports hand out the same reused frame until a new one arrives). The first frame of an episode
   * also goes to the start slot. Returns true when the frame was written. Allocates nothing, never waits.
   */
  write(rgb: Uint8Array, stampMs: number, episode: number): boolean {
    if (stampMs === this.lastStampMs) return false;
    const latest = Atomics.load(this.header, H_LATEST);
    let slot = -1;
    for (let s = 0; s < this.slots; s++) {
      if (s !== latest && Atomics.compareExchange(this.states, s, 0, WRITING) === 0) {
        slot = s;
        break;
      }
    }
    if (slot < 0) {
      Atomics.add(this.header, H_DROPPED, 1);
      return false;
    }
    this.lastStampMs = stampMs;
    const seq = Atomics.add(this.header, H_SEQ, 1) + 1;
    this.fill(slot, rgb, stampMs, episode, seq);
    // The start slot takes the episode's first frame; if a reader holds it, the next frame is tried instead.
    if (Atomics.load(this.header, H_START_EPISODE) !== episode && Atomics.compareExchange(this.states, this.slots, 0, WRITING) === 0) {
      this.fill(this.slots, rgb, stampMs, episode, seq);
      Atomics.store(this.header, H_START_EPISODE, episode);
      Atomics.store(this.states, this.slots, 0);
    }
    Atomics.store(this.states, slot, 0);
    Atomics.store(this.header, H_LATEST, slot);
    return true;
  }

  /** Episode of the frame in the start slot, 0 when none. */
  get startEpisode(): number {
    return Atomics.load(this.header, H_START_EPISODE);
  }

  /**
   * Put a frame into the start slot alone: for a writer that sends no next frame until this one is judged, when
   * write() found the start slot held by a reader. False while a reader still holds it. Never waits.
   */
  writeStart(rgb: Uint8Array, stampMs: number, episode: number): boolean {
    if (Atomics.compareExchange(this.states, this.slots, 0, WRITING) !== 0) return false;
    this.fill(this.slots, rgb, stampMs, episode, Atomics.load(this.header, H_SEQ));
    Atomics.store(this.header, H_START_EPISODE, episode);
    Atomics.store(this.states, this.slots, 0);
    return true;
  }

  private fill(slot: number, rgb: Uint8Array, stampMs: number, episode: number, seq: number): void {
    const px = this.pixels[slot];
    if (rgb.length === px.length) px.set(rgb);
    else px.set(rgb.subarray(0, px.length));
    this.stamps[slot] = stampMs;
    this.episodes[slot] = episode;
    this.seqs[slot] = seq;
  }

  // ── readers (reader index r in 0..30) ──────────────────────────────────────────────────────────────────

  /** Hold the newest slot for reader r; −1 when no frame has been written yet. Release it with release(). */
  acquireLatest(reader: number): number {
    const bit = 1 << reader;
    for (;;) {
      const slot = Atomics.load(this.header, H_LATEST);
      if (slot < 0) return -1;
      const state = Atomics.load(this.states, slot);
      if (state >= 0 && Atomics.compareExchange(this.states, slot, state, state | bit) === state) return slot;
      // Lost a race with the writer (it is refilling an old latest) or with another reader: look again.
    }
  }

  /** Hold the start slot if it holds a frame of `episode`; −1 otherwise (not written yet, or being written). */
  acquireStart(reader: number, episode: number): number {
    const bit = 1 << reader;
    const slot = this.slots;
    for (let attempt = 0; attempt < 64; attempt++) {
      const state = Atomics.load(this.states, slot);
      if (state < 0) return -1;
      if (Atomics.compareExchange(this.states, slot, state, state | bit) === state) {
        if (this.episodes[slot] === episode) return slot;
        this.release(reader, slot);
        return -1;
      }
    }
    return -1;
  }

  release(reader: number, slot: number): void {
    Atomics.and(this.states, slot, ~(1 << reader));
  }

  /** Clear reader r's bit everywhere (its worker died). */
  releaseAll(reader: number): void {
    const bit = 1 << reader;
    for (let s = 0; s <= this.slots; s++) {
      for (;;) {
        const state = Atomics.load(this.states, s);
        if (state < 0 || (state & bit) === 0) break;
        if (Atomics.compareExchange(this.states, s, state, state & ~bit) === state) break;
      }
    }
  }

  // Fields of a held slot (plain reads are safe while the reader's bit is set).
  seqOf(slot: number): number {
    return this.seqs[slot];
  }

  stampOf(slot: number): number {
    return this.stamps[slot];
  }

  episodeOf(slot: number): number {
    return this.episodes[slot];
  }

  pixelsOf(slot: number): Uint8Array {
    return this.pixels[slot];
  }
}
