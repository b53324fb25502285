// What a PRM worker and its host say to each other. Frames never travel as messages: they sit in the shared
// frame rings (frame-ring.ts). A small shared control block carries what the host must read without waiting
// (is the worker mid-update, since when) and what the worker must see at once (the current episode).
import type { FrameRingDescriptor } from './frame-ring.js';
import type { ResolvedPrmModel } from './load-adapter.js';
import type { PrmViewArrays } from './adapter.js';

// Control block: Int32Array over a SharedArrayBuffer.
export const CTL_STARTED = 0; // sequence number of the last update the worker started (after taking its frames)
export const CTL_START_MS = 1; // host-clock ms (floor of the host's performance.now()) when it started
export const CTL_EPISODE = 2; // current episode, written by the host; 0 before the first
export const CTL_RETIRED = 3; // 1: the host has given up on this worker; it must stop at its next loop turn
export const CTL_INTS = 4;

export interface PrmWorkerData {
  readonly model: ResolvedPrmModel;
  /** One ring per view, in the model's camera order. */
  readonly rings: readonly FrameRingDescriptor[];
  /** This worker's reader bit in every ring. */
  readonly reader: number;
  readonly control: SharedArrayBuffer;
  /** The host's performance.timeOrigin, so the worker can stamp in the host's clock. */
  readonly hostTimeOrigin: number;
}

export interface ErrorInfo {
  readonly code: string;
  readonly message: string;
  readonly details: readonly string[];
}

export type HostToWorker =
  | { readonly type: 'task'; readonly episode: number; readonly text: string }
  | { readonly type: 'stop' }
  /** Judge the recorded frames of `episode` again, played backwards. */
  | { readonly type: 'reverse'; readonly episode: number }
  /** Fault drill: throw an uncaught error between two updates. */
  | { readonly type: 'crash' };

export interface ResultMessage extends PrmViewArrays {
  readonly type: 'result';
  readonly update: number;
  readonly episode: number;
  /** Frames taken to answer sent, ms (preprocessing and runs). */
  readonly latencyMs: number;
  readonly runs: number;
}

export type WorkerToHost =
  | { readonly type: 'ready'; readonly provider: string; readonly batched: boolean; readonly memoryless: boolean }
  | ResultMessage
  | { readonly type: 'error'; readonly update: number; readonly episode: number; readonly error: ErrorInfo }
  | { readonly type: 'fatal'; readonly error: ErrorInfo }
  /** The reversed pass: per update (in the order shown), per view, progress; count 0 when nothing was recorded. */
  | { readonly type: 'reversed'; readonly episode: number; readonly count: number; readonly progress: Float64Array }
  | { readonly type: 'log'; readonly level: 'debug' | 'info' | 'warn' | 'error'; readonly msg: string; readonly fields?: Record<string, unknown> };
