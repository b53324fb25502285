// Reward-hacking alarm: the PRM claims success (Φ ≥ 1 − δ) while the success signal — the environment's, or a
// success model's probability — says no. N such disagreements within the last W PRM updates raise the alarm.
//
// The alarm is edge-triggered: update() returns true once, when the count reaches N, and `active` stays true.
// It re-arms when the window clears, i.e. the last W updates hold no disagreement at all; only then can it
// fire again. So a policy that keeps exploiting the PRM gives one alarm (and a level that stays up), not one
// per update. An update where either side is NaN (no answer) is a slot in the window but never a disagreement.
//
// The window is a ring of W bytes with a running count (as the deadline-storm window in control/scheduler.ts):
// update() is O(1) and allocates nothing.
import { StriatumError } from '../errors.js';

export interface HackingAlarmOptions {
  /** δ: the PRM claims success at Φ ≥ 1 − δ. */
  readonly successMargin: number;
  /** The success signal says "success" at probability ≥ this (an environment flag passes 1 or 0). */
  readonly successThreshold: number;
  /** N: disagreements within the window that raise the alarm. */
  readonly disagreements: number;
  /** W: window length, in PRM updates. */
  readonly window: number;
}

export class HackingAlarm {
  readonly claimThreshold: number;
  readonly successThreshold: number;
  readonly trigger: number;
  private readonly ring: Uint8Array;
  private pos = 0;
  /** Disagreements among the last W updates. */
  inWindow = 0;
  /** Raised and not yet re-armed. */
  active = false;

  updates = 0;
  /** Updates where the PRM claimed success. */
  claims = 0;
  /** Claims the success signal contradicted (whole run). */
  disagreementsTotal = 0;
  /** Times the alarm fired. */
  alarms = 0;

  constructor(options: HackingAlarmOptions) {
    if (!Number.isInteger(options.window) || options.window < 1) throw new StriatumError('STRIATUM_ERR_CONFIG', `hacking alarm window must be an integer ≥ 1, got ${options.window}`);
    if (!Number.isInteger(options.disagreements) || options.disagreements < 1 || options.disagreements > options.window) {
      throw new StriatumError('STRIATUM_ERR_CONFIG', `hacking alarm count must be an integer in [1, window], got ${options.disagreements}`);
    }
    this.claimThreshold = 1 - options.successMargin;
    this.successThreshold = options.successThreshold;
    this.trigger = options.disagreements;
    this.ring = new Uint8Array(options.window);
  }

  /** One PRM update: its progress and the success signal for the same state. Returns true when the alarm fires. */
  update(progress: number, successProbability: number): boolean {
    this.updates++;
    const claim = progress >= this.claimThreshold; // false for NaN
    if (claim) this.claims++;
    const disagree = claim && successProbability < this.successThreshold ? 1 : 0; // false for NaN
    this.disagreementsTotal += disagree;
    this.inWindow += disagree - this.ring[this.pos];
    this.ring[this.pos] = disagree;
    this.pos = (this.pos + 1) % this.ring.length;

    if (this.active) {
      if (this.inWindow === 0) this.active = false;
      return false;
    }
    if (this.inWindow >= this.trigger) {
      this.active = true;
      this.alarms++;
      return true;
    }
    return false;
  }

  /** Forget the window (a new PRM or a new task); counters are kept. */
  clear(): void {
    this.ring.fill(0);
    this.pos = 0;
    this.inWindow = 0;
    this.active = false;
  }
}
