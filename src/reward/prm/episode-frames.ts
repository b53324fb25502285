// The camera frames a PRM judged during one episode (one set of views per update), kept in the worker so the
// episode can be judged again played backwards: VLAC's VROC for models with memory (pairwise integration,
// frame windows, start anchors), whose answers on a reversed video are not their answers reversed.
//
// At most `capacity` updates are kept: when full, every other one is dropped and from then on only every
// second update is recorded (then every fourth, …), so the record always spans the whole episode evenly.
// Buffers are allocated once; record() copies the frames.

export class EpisodeFrames {
  episode = 0;
  /** Updates held. */
  count = 0;
  private stride = 1;
  private seen = 0;
  private readonly frames: Uint8Array[][]; // [update][view]

  constructor(readonly capacity: number, readonly frameBytes: readonly number[]) {
    this.frames = [];
    for (let k = 0; k < capacity; k++) this.frames.push(frameBytes.map((n) => new Uint8Array(n)));
  }

  reset(episode: number): void {
    this.episode = episode;
    this.count = 0;
    this.stride = 1;
    this.seen = 0;
  }

  /** The frames of one update, one per view. */
  record(views: readonly Uint8Array[]): void {
    if (this.capacity === 0) return;
    if (this.seen++ % this.stride !== 0) return;
    if (this.count === this.capacity) {
      // Keep updates 0, 2, 4, … and record half as often from now on.
      const kept = this.frames;
      for (let k = 0; 2 * k < this.capacity; k++) {
        const from = kept[2 * k];
        const to = kept[k];
        for (let v = 0; v < to.length; v++) to[v].set(from[v]);
      }
      this.count = Math.ceil(this.capacity / 2);
      this.stride *= 2;
      this.seen = 1;
    }
    const slot = this.frames[this.count++];
    for (let v = 0; v < views.length; v++) slot[v].set(views[v]);
  }

  frame(update: number, view: number): Uint8Array {
    return this.frames[update][view];
  }
}
