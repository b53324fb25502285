// Host side of one PRM worker thread: starts it, receives its answers, and makes sure nothing it does can
// stall or crash the control loop.
//
// - Answers arrive by postMessage between ticks and are copied into a small ring of preallocated updates; the
//   reward pipeline drains that ring in its tick (takeUpdate()), which allocates nothing.
// - poll(now), called from the tick, reads the shared control block (two Atomics loads): an update started
//   more than timeout_ms ago with no answer becomes a "no reward" update (counted in `timeouts`) and its late
//   answer is dropped when it comes (`lateResults`). An update busy for hang_ms gets the worker restarted.
// - A run that throws becomes a "no reward" update (`errors`); an answer whose main value is NaN or infinite on
//   a judged view is counted in `nanResults` (view fusion then drops those views; all dropped = no reward).
// - A worker that dies is counted (`crashes`), its frame-ring bits are cleared, and it is restarted after a
//   backoff that doubles per consecutive failure (restart_backoff_ms … restart_backoff_max_ms) and resets on
//   the first good answer. Errors are logged at counts 1, 2, 3, 4, 8, 16, … so a broken model cannot flood
//   the log.
// - A worker is never terminate()d. onnxruntime-node aborts the whole process (std::terminate from a
//   Napi::Error) when a worker is torn down while session.run() is in flight, so a hung worker is retired
//   instead: its control block is flagged, it is told to stop, its answers are ignored, and a fresh worker
//   with a fresh control block takes over. The retired one exits by itself when its run returns (a run that
//   never returns costs a thread, never the process). close() waits for every worker to exit.
import { Worker } from 'node:worker_threads';
import { StriatumError, type ErrorCode } from '../../errors.js';
import type { Logger } from '../../log.js';
import { LatencyHistogram } from '../../util/histogram.js';
import type { FrameRing } from './frame-ring.js';
import type { ResolvedPrmModel } from './load-adapter.js';
import { CTL_EPISODE, CTL_INTS, CTL_RETIRED, CTL_START_MS, CTL_STARTED, type ErrorInfo, type HostToWorker, type PrmWorkerData, type ResultMessage, type WorkerToHost } from './protocol.js';
import type { PrmViewArrays } from './adapter.js';

const WORKER_URL = new URL('./prm-worker-main.js', import.meta.url);
const PENDING = 16;

export const UPDATE_OK = 0;
export const UPDATE_ERROR = 1;
export const UPDATE_TIMEOUT = 2;
export const UPDATE_CRASH = 3;
export type UpdateStatus = 0 | 1 | 2 | 3;

/** One PRM answer (or its absence) as the pipeline folds it in. Reused: copy what must outlive the tick. */
export class PrmUpdate implements PrmViewArrays {
  update = 0;
  episode = 0;
  status: UpdateStatus = UPDATE_OK;
  /** Host-clock ms when it reached the host. */
  arrivedMs = 0;
  latencyMs = Number.NaN;
  /** Session runs the answer took (views batched into one run, or one run per view or pair). */
  runs = 0;
  readonly progress: Float64Array;
  readonly delta: Float64Array;
  readonly done: Float64Array;
  readonly confidence: Float64Array;
  readonly raw: Float64Array;
  readonly stampMs: Float64Array;
  readonly fresh: Uint8Array;

  constructor(readonly views: number) {
    this.progress = new Float64Array(views);
    this.delta = new Float64Array(views);
    this.done = new Float64Array(views);
    this.confidence = new Float64Array(views);
    this.raw = new Float64Array(views);
    this.stampMs = new Float64Array(views);
    this.fresh = new Uint8Array(views);
  }

  /** Newest capture time among the frames judged (NaN for a missing answer). */
  get judgedStampMs(): number {
    let s = Number.NaN;
    for (let v = 0; v < this.views; v++) {
      const x = this.stampMs[v];
      if (x === x && !(x <= s)) s = x; // skips NaN (a view not judged yet)
    }
    return s;
  }

  markMissing(status: UpdateStatus, update: number, episode: number, nowMs: number): void {
    this.status = status;
    this.update = update;
    this.episode = episode;
    this.arrivedMs = nowMs;
    this.latencyMs = Number.NaN;
    this.runs = 0;
    this.progress.fill(Number.NaN);
    this.delta.fill(Number.NaN);
    this.done.fill(Number.NaN);
    this.confidence.fill(Number.NaN);
    this.raw.fill(Number.NaN);
    this.stampMs.fill(Number.NaN);
    this.fresh.fill(0);
  }
}

export type PrmWorkerState = 'starting' | 'ready' | 'restarting' | 'failed' | 'closed';

export interface PrmWorkerHostOptions {
  readonly model: ResolvedPrmModel;
  /** One ring per view, in the model's camera order. */
  readonly rings: readonly FrameRing[];
  /** This host's reader bit in those rings. */
  readonly reader: number;
  readonly logger: Logger;
  /** How long start() waits for the first load (default 120 s). */
  readonly startTimeoutMs?: number;
  /** How long close() waits for workers to finish their run and exit (default 10 s). */
  readonly closeTimeoutMs?: number;
}

function shouldLog(n: number): boolean {
  return n <= 3 || (n & (n - 1)) === 0;
}

function toError(e: ErrorInfo): StriatumError {
  return new StriatumError(e.code as ErrorCode, e.message, e.details);
}

export class PrmWorkerHost {
  readonly model: ResolvedPrmModel;
  readonly views: number;
  state: PrmWorkerState = 'starting';
  provider = '';
  batched = false;
  memoryless = false;

  // Counters for telemetry (whole run).
  updates = 0;
  validUpdates = 0;
  errors = 0;
  timeouts = 0;
  nanResults = 0;
  crashes = 0;
  restarts = 0;
  hangs = 0;
  lateResults = 0;
  /** Session runs made for the answers received. */
  runs = 0;
  /** Answers dropped because the pending ring was full (the pipeline did not drain it). */
  droppedUpdates = 0;
  /** Worker compute time per answer, µs. */
  readonly latency = new LatencyHistogram();

  private readonly o: PrmWorkerHostOptions;
  /** The current worker's control block (a fresh one per worker, so a retired worker cannot touch it). */
  private control: Int32Array;
  private worker: Worker | null = null;
  /** Every live worker (current and retired) with its control block. */
  private readonly live = new Map<Worker, Int32Array>();
  private readonly pending: PrmUpdate[] = [];
  private head = 0;
  private count = 0;
  /** Highest update sequence answered, timed out or failed, for the current worker. */
  private settled = 0;
  private timedOut = 0;
  private consecutiveFailures = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  private episode = 0;
  private taskText = '';
  private closing = false;
  private readonly expectedExits = new WeakSet<Worker>();
  private readonly reversedWaiters = new Map<number, (progress: Float64Array | null) => void>();

  constructor(options: PrmWorkerHostOptions) {
    this.o = options;
    this.model = options.model;
    this.views = options.model.cameras.length;
    this.control = new Int32Array(new SharedArrayBuffer(CTL_INTS * 4));
    for (let i = 0; i < PENDING; i++) this.pending.push(new PrmUpdate(this.views));
  }

  /** Start the worker and wait until its model is loaded; rejects with the worker's StriatumError. */
  start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new StriatumError('STRIATUM_ERR_PRM_START', `reward model '${this.model.name}' did not load within ${this.o.startTimeoutMs ?? 120000} ms`));
        void this.close();
      }, this.o.startTimeoutMs ?? 120000);
      this.spawn((err) => {
        clearTimeout(timer);
        if (err === null) resolve();
        else {
          this.state = 'failed';
          reject(err);
        }
      });
    });
  }

  /**
   * Fault drill: the worker throws an uncaught error between two updates, as a crashing worker would. The host
   * must count it, log it and restart the worker.
   */
  injectCrash(): void {
    this.send({ type: 'crash' });
  }

  /**
   * Ask the worker to judge the recorded frames of `episode` again, played backwards. Resolves with progress
   * per update (in the order shown) and view, or null when nothing was recorded, the worker died, or no answer
   * came within timeoutMs.
   */
  requestReversed(episode: number, timeoutMs = 120000): Promise<Float64Array | null> {
    if (this.worker === null || this.state !== 'ready') return Promise.resolve(null);
    this.reversedWaiters.get(episode)?.(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.settleReversed(episode, null), timeoutMs);
      timer.unref();
      this.reversedWaiters.set(episode, (progress) => {
        clearTimeout(timer);
        resolve(progress);
      });
      this.send({ type: 'reverse', episode });
    });
  }

  private settleReversed(episode: number, progress: Float64Array | null): void {
    const waiter = this.reversedWaiters.get(episode);
    if (waiter === undefined) return;
    this.reversedWaiters.delete(episode);
    waiter(progress);
  }

  private abandonReversed(): void {
    for (const episode of [...this.reversedWaiters.keys()]) this.settleReversed(episode, null);
  }

  /** Updates answered so far (a result or a run error); lockstep waits for this to pass a mark. */
  get answered(): number {
    return this.settled;
  }

  /** Whether the worker is in the middle of an update now (one Atomics load). */
  get busy(): boolean {
    return Atomics.load(this.control, CTL_STARTED) > this.settled;
  }

  /** A new episode: the worker sees it at once through the control block; the task text follows by message. */
  setEpisode(episode: number, text: string): void {
    this.episode = episode;
    this.taskText = text;
    Atomics.store(this.control, CTL_EPISODE, episode);
    this.send({ type: 'task', episode, text });
    // Answers still pending belong to the previous episode.
    this.count = 0;
  }

  /** Timeout and hang detection; call once per tick. Allocates nothing (a hang schedules a restart). */
  poll(nowMs: number): void {
    if (this.state !== 'ready') return;
    const started = Atomics.load(this.control, CTL_STARTED);
    if (started <= this.settled) return;
    const elapsed = nowMs - Atomics.load(this.control, CTL_START_MS);
    if (started !== this.timedOut && elapsed > this.model.timeoutMs) {
      this.timedOut = started;
      this.timeouts++;
      this.push().markMissing(UPDATE_TIMEOUT, started, this.episode, nowMs);
      if (shouldLog(this.timeouts)) this.o.logger.warn('reward model timed out: no reward for this update', { model: this.model.name, update: started, timeout_ms: this.model.timeoutMs, timeouts: this.timeouts });
    }
    if (elapsed > this.model.hangMs) {
      this.hangs++;
      this.settled = started;
      this.o.logger.error('reward model hangs: restarting its worker', { model: this.model.name, busy_ms: Math.round(elapsed), hang_ms: this.model.hangMs });
      this.state = 'restarting';
      if (this.worker !== null) this.retire(this.worker);
      this.worker = null;
      this.scheduleRestart();
    }
  }

  /** The oldest pending update, or null. The record is reused after the next call. */
  takeUpdate(): PrmUpdate | null {
    if (this.count === 0) return null;
    const u = this.pending[this.head];
    this.head = (this.head + 1) % PENDING;
    this.count--;
    return u;
  }

  /** Stop every worker: each finishes its current run and exits. Waits up to closeTimeoutMs, then lets go. */
  async close(): Promise<void> {
    this.closing = true;
    this.state = 'closed';
    if (this.restartTimer !== null) clearTimeout(this.restartTimer);
    this.abandonReversed();
    if (this.worker !== null) this.retire(this.worker);
    this.worker = null;
    const waiting = [...this.live.keys()];
    if (waiting.length === 0) return;
    const exits = Promise.all(waiting.map((w) => new Promise<void>((resolve) => {
      w.once('exit', () => resolve());
      if (!this.live.has(w)) resolve();
    })));
    let timer: NodeJS.Timeout | null = null;
    const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), this.o.closeTimeoutMs ?? 10000); });
    const outcome = await Promise.race([exits, timeout]);
    if (timer !== null) clearTimeout(timer);
    if (outcome === 'timeout') {
      // Terminating a worker mid-run would abort the process: leave it to finish, without holding the process.
      for (const w of this.live.keys()) w.unref();
      this.o.logger.warn('reward model worker still busy at close; left to finish its run', { model: this.model.name, workers: this.live.size });
    }
  }

  // ── internals ──────────────────────────────────────────────────────────────────────────────────────────

  private send(m: HostToWorker): void {
    this.worker?.postMessage(m);
  }

  /** Flag a worker to stop at its next loop turn and ignore it from now on (never terminate(): see above). */
  private retire(w: Worker): void {
    const control = this.live.get(w);
    if (control !== undefined) Atomics.store(control, CTL_RETIRED, 1);
    this.expectedExits.add(w);
    w.postMessage({ type: 'stop' } satisfies HostToWorker);
  }

  /** The next pending record to fill (the oldest is overwritten, and counted, when the ring is full). */
  private push(): PrmUpdate {
    if (this.count === PENDING) {
      this.head = (this.head + 1) % PENDING;
      this.count--;
      this.droppedUpdates++;
    }
    const u = this.pending[(this.head + this.count) % PENDING];
    this.count++;
    this.updates++;
    return u;
  }

  private spawn(onLoaded: ((err: StriatumError | null) => void) | null): void {
    for (const ring of this.o.rings) ring.releaseAll(this.o.reader);
    // A fresh worker gets a fresh control block and numbers its updates from 1 again.
    const buffer = new SharedArrayBuffer(CTL_INTS * 4);
    const control = new Int32Array(buffer);
    Atomics.store(control, CTL_EPISODE, this.episode);
    this.control = control;
    this.settled = 0;
    this.timedOut = 0;
    const data: PrmWorkerData = {
      model: this.model,
      rings: this.o.rings.map((r) => r.descriptor),
      reader: this.o.reader,
      control: buffer,
      hostTimeOrigin: performance.timeOrigin,
    };
    const w = new Worker(WORKER_URL, { workerData: data, stdout: false, stderr: false });
    this.worker = w;
    this.live.set(w, control);
    this.state = 'starting';
    let loaded = false;
    w.on('message', (m: WorkerToHost) => {
      if (this.worker !== w) return;
      switch (m.type) {
        case 'ready':
          loaded = true;
          this.state = 'ready';
          this.provider = m.provider;
          this.batched = m.batched;
          this.memoryless = m.memoryless;
          if (this.episode !== 0) this.send({ type: 'task', episode: this.episode, text: this.taskText });
          onLoaded?.(null);
          onLoaded = null;
          break;
        case 'result':
          this.onResult(m);
          break;
        case 'error':
          this.onRunError(m.update, m.episode, m.error);
          break;
        case 'reversed':
          this.settleReversed(m.episode, m.count > 0 ? m.progress : null);
          break;
        case 'fatal':
          this.onFatal(w, m.error, onLoaded);
          onLoaded = null;
          break;
        case 'log':
          this.o.logger[m.level](m.msg, { model: this.model.name, ...m.fields });
          break;
      }
    });
    w.on('error', (err) => {
      this.o.logger.error('reward model worker failed', { model: this.model.name, error: String(err.message ?? err).split('\n')[0] });
    });
    w.on('exit', (code) => {
      this.live.delete(w);
      if (this.expectedExits.has(w) || this.closing) return;
      if (this.worker === w) this.worker = null;
      if (!loaded && onLoaded !== null) {
        onLoaded(new StriatumError('STRIATUM_ERR_INTERNAL', `reward model '${this.model.name}' worker exited with code ${code} while loading`));
        onLoaded = null;
        return;
      }
      this.crashes++;
      this.push().markMissing(UPDATE_CRASH, Atomics.load(control, CTL_STARTED), this.episode, performance.now());
      this.o.logger.error('reward model worker crashed: restarting', { model: this.model.name, exit_code: code, crashes: this.crashes });
      this.state = 'restarting';
      this.scheduleRestart();
    });
  }

  private onResult(m: ResultMessage): void {
    if (m.update <= this.timedOut) {
      this.lateResults++;
      this.settled = Math.max(this.settled, m.update);
      return;
    }
    this.settled = Math.max(this.settled, m.update);
    this.latency.record(m.latencyMs * 1000);
    const u = this.push();
    u.status = UPDATE_OK;
    u.update = m.update;
    u.episode = m.episode;
    u.arrivedMs = performance.now();
    u.latencyMs = m.latencyMs;
    u.runs = m.runs;
    this.runs += m.runs;
    u.progress.set(m.progress);
    u.delta.set(m.delta);
    u.done.set(m.done);
    u.confidence.set(m.confidence);
    u.raw.set(m.raw);
    u.stampMs.set(m.stampMs);
    u.fresh.set(m.fresh);
    let finite = true;
    for (let v = 0; v < this.views; v++) {
      const main = this.model.kind === 'success' ? m.done[v] : m.progress[v];
      if (m.fresh[v] === 1 && !Number.isFinite(main)) finite = false;
    }
    if (finite) {
      this.validUpdates++;
      this.consecutiveFailures = 0;
    } else {
      this.nanResults++;
      if (shouldLog(this.nanResults)) this.o.logger.warn('reward model answered NaN', { model: this.model.name, update: m.update, nan_results: this.nanResults });
    }
  }

  private onRunError(update: number, episode: number, error: ErrorInfo): void {
    this.settled = Math.max(this.settled, update);
    if (update <= this.timedOut && update > 0) {
      this.lateResults++;
      return;
    }
    this.errors++;
    this.push().markMissing(UPDATE_ERROR, update, episode, performance.now());
    if (shouldLog(this.errors)) this.o.logger.error('reward model run failed: no reward for this update', { model: this.model.name, update, error: error.message, errors: this.errors });
  }

  private onFatal(w: Worker, error: ErrorInfo, onLoaded: ((err: StriatumError | null) => void) | null): void {
    // The worker exits by itself after a fatal error (it has no run in flight).
    this.expectedExits.add(w);
    if (this.worker === w) this.worker = null;
    if (onLoaded !== null && this.restarts === 0 && this.crashes === 0 && this.hangs === 0) {
      // The first load failed: start-up fails with the model's own error (a config problem, not a crash).
      onLoaded(toError(error));
      return;
    }
    this.crashes++;
    this.o.logger.error('reward model worker could not restart', { model: this.model.name, error: error.message, details: error.details });
    this.state = 'restarting';
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    this.abandonReversed();
    if (this.closing || this.restartTimer !== null) return;
    this.consecutiveFailures++;
    const delay = Math.min(this.model.restartBackoffMaxMs, this.model.restartBackoffMs * 2 ** (this.consecutiveFailures - 1));
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.closing) return;
      this.restarts++;
      this.o.logger.info('restarting reward model worker', { model: this.model.name, restarts: this.restarts, after_ms: delay });
      this.spawn(null);
    }, delay);
    this.restartTimer.unref();
  }
}
