// Entry of a PRM worker thread: loads its adapter (own onnxruntime session), then at its own rate takes the
// newest frame of each view from the shared rings, judges the views that have a new frame, and posts the
// answer. session.run() blocks this thread, never the control loop's.
//
// An update waits (is skipped) until every view has a frame of the current episode (and its start frame, for
// models that need one) and, for models that read text, the episode's task text has arrived. New frames seen
// while waiting are kept and judged at the next update. The worker stops at its next loop turn when told to
// (a message) or when its host has retired it (a flag in the control block).
import { parentPort, workerData } from 'node:worker_threads';
import { isStriatumError } from '../../errors.js';
import type { Logger, LogLevel } from '../../log.js';
import { PrmViewValues, type PrmAdapter } from './adapter.js';
import { EpisodeFrames } from './episode-frames.js';
import { FrameRing } from './frame-ring.js';
import { loadAdapter } from './load-adapter.js';
import { FrameWindow } from './preprocess.js';
import { CTL_EPISODE, CTL_RETIRED, CTL_START_MS, CTL_STARTED, type ErrorInfo, type HostToWorker, type PrmWorkerData, type WorkerToHost } from './protocol.js';

const port = parentPort;
if (port === null) throw new Error('prm-worker-main must run in a worker thread');
const data = workerData as PrmWorkerData;
const post = (m: WorkerToHost): void => port.postMessage(m);

function errorInfo(err: unknown): ErrorInfo {
  if (isStriatumError(err)) return { code: err.code, message: err.message, details: err.details };
  return { code: 'STRIATUM_ERR_INTERNAL', message: String((err as Error)?.message ?? err).split('\n')[0], details: [] };
}

/** Logs go to the host, which writes them with its own logger. */
function workerLogger(component: string): Logger {
  const emit = (level: LogLevel) => (msg: string, fields?: Record<string, unknown>): void => post({ type: 'log', level, msg, fields: { component, ...fields } });
  const logger: Logger = {
    debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error'),
    child: (c: string) => workerLogger(c),
    enabled: () => true,
  };
  return logger;
}

const control = new Int32Array(data.control);
const hostNow = (): number => performance.timeOrigin + performance.now() - data.hostTimeOrigin;

let stopping = false;
let crashRequested = false;
const reverseJobs: number[] = [];
let wake: (() => void) | null = null;
const texts = new Map<number, string>();

port.on('message', (m: HostToWorker) => {
  if (m.type === 'task') {
    texts.set(m.episode, m.text);
    for (const e of texts.keys()) if (e < m.episode) texts.delete(e);
  } else if (m.type === 'stop') {
    stopping = true;
    wake?.();
  } else if (m.type === 'crash') {
    crashRequested = true;
  } else if (m.type === 'reverse') {
    reverseJobs.push(m.episode);
    wake?.();
  }
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => {
  const t = setTimeout(() => { wake = null; resolve(); }, ms);
  wake = () => { clearTimeout(t); wake = null; resolve(); };
});

async function main(): Promise<void> {
  const model = data.model;
  const log = workerLogger(`prm:${model.name}`);
  let loaded: Awaited<ReturnType<typeof loadAdapter>>;
  try {
    loaded = await loadAdapter(model, log);
  } catch (err) {
    post({ type: 'fatal', error: errorInfo(err) });
    return;
  }
  const { adapter, preprocessors } = loaded;
  const views = model.cameras.length;
  const rings = data.rings.map((d) => new FrameRing(d));
  const windows = preprocessors.map((p) => new FrameWindow(p, adapter.window, adapter.keepsPrevious));
  const values = new PrmViewValues(views);
  const fresh = new Uint8Array(views);
  const lastSeq = new Int32Array(views);
  const reader = data.reader;
  // Raw copies of each view's newest frame, and the episode's judged frames (this one and the previous one).
  const lastRaw = rings.map((r) => new Uint8Array(r.frameBytes));
  const frameBytes = rings.map((r) => r.frameBytes);
  let recording = new EpisodeFrames(model.reversedEvalFrames, frameBytes);
  let previousRecording = new EpisodeFrames(model.reversedEvalFrames, frameBytes);
  const recordedText = new Map<EpisodeFrames, string | null>();

  // Warm-up on blank frames, then forget it.
  try {
    const blanks = rings.map((r) => new Uint8Array(r.frameBytes));
    for (let v = 0; v < views; v++) windows[v].push(blanks[v], 0);
    for (let i = 0; i < model.warmupRuns; i++) await adapter.warmUp(windows);
  } catch (err) {
    post({ type: 'fatal', error: errorInfo(err) });
    await adapter.close();
    return;
  }
  adapter.reset();
  for (const w of windows) w.reset();
  values.reset();
  fresh.fill(0);
  post({ type: 'ready', provider: adapter.provider, batched: adapter.batched, memoryless: adapter.memoryless });

  let episode = 0;
  let text: string | null = null;
  let update = 0;
  const period = 1000 / model.rateHz;
  let next = performance.now();

  while (!stopping && Atomics.load(control, CTL_RETIRED) === 0) {
    if (crashRequested) {
      // Fault drill: an uncaught error between runs (never during one: see prm-worker.ts), and no further work.
      setImmediate(() => { throw new Error('injected crash (fault drill)'); });
      await new Promise<never>(() => {});
    }
    const t0 = performance.now();
    const current = Atomics.load(control, CTL_EPISODE);
    if (current !== episode) {
      episode = current;
      [recording, previousRecording] = [previousRecording, recording];
      recording.reset(episode);
      recordedText.set(recording, null);
      restartLive();
    }
    while (reverseJobs.length > 0) {
      const job = reverseJobs.shift() as number;
      const rec = recording.episode === job ? recording : previousRecording.episode === job ? previousRecording : null;
      const progress = rec === null || rec.count === 0 ? new Float64Array(0) : await reversedPass(adapter, rec, recordedText.get(rec) ?? null, text);
      post({ type: 'reversed', episode: job, count: progress.length / views, progress });
      // The pass used the adapter's per-episode state: the live episode starts over from its newest frames.
      restartLive();
    }
    // The task text, when the model needs it before judging.
    let ready = episode !== 0;
    if (ready && adapter.needsText) {
      const want = model.goalText ?? texts.get(episode);
      if (want !== undefined) recordedText.set(recording, want);
      if (want === undefined) ready = false;
      else if (want !== text) {
        try {
          await adapter.setTask(want);
          text = want;
        } catch (err) {
          post({ type: 'error', update, episode, error: errorInfo(err) });
          ready = false;
        }
      }
    }
    if (ready) {
      // Newest frame of each view; only frames of this episode, only ones not judged yet.
      let any = false;
      let complete = true;
      for (let v = 0; v < views; v++) {
        const ring = rings[v];
        const w = windows[v];
        const slot = ring.acquireLatest(reader);
        if (slot >= 0) {
          const seq = ring.seqOf(slot);
          if (ring.episodeOf(slot) === episode && seq !== lastSeq[v]) {
            w.push(ring.pixelsOf(slot), ring.stampOf(slot));
            lastRaw[v].set(ring.pixelsOf(slot));
            lastSeq[v] = seq;
            fresh[v] = 1;
          }
          ring.release(reader, slot);
        }
        if (adapter.needsStart && !w.hasStart) {
          const s = ring.acquireStart(reader, episode);
          if (s >= 0) {
            w.setStart(ring.pixelsOf(s), ring.stampOf(s));
            ring.release(reader, s);
          }
        }
        if (fresh[v] === 1) any = true;
        if (w.count === 0 || (adapter.needsStart && !w.hasStart)) complete = false;
      }
      if (any && complete) {
        update++;
        Atomics.store(control, CTL_START_MS, Math.floor(hostNow()));
        Atomics.store(control, CTL_STARTED, update);
        try {
          const runs = await adapter.evaluate(windows, fresh, values);
          recording.record(lastRaw);
          post({
            type: 'result', update, episode, progress: values.progress, delta: values.delta, done: values.done,
            confidence: values.confidence, raw: values.raw, stampMs: values.stampMs, fresh: values.fresh,
            latencyMs: performance.now() - t0, runs,
          });
        } catch (err) {
          post({ type: 'error', update, episode, error: errorInfo(err) });
        }
        fresh.fill(0);
      }
    }
    if (reverseJobs.length > 0) continue;
    next += period;
    const now = performance.now();
    if (next < now) next = now; // late: go on at once, never burst to catch up
    await sleep(next - now);
  }
  await adapter.close();

  function restartLive(): void {
    adapter.reset();
    for (const w of windows) w.reset();
    values.reset();
    lastSeq.fill(0);
    fresh.fill(0);
  }

  /** The recorded episode played backwards through the adapter, with its own windows; progress per update and view. */
  async function reversedPass(a: PrmAdapter, rec: EpisodeFrames, recText: string | null, liveText: string | null): Promise<Float64Array> {
    const n = rec.count;
    const out = new Float64Array(n * views).fill(Number.NaN);
    const passWindows = preprocessors.map((p) => new FrameWindow(p, a.window, a.keepsPrevious));
    const passValues = new PrmViewValues(views);
    const all = new Uint8Array(views).fill(1);
    if (a.needsText && recText !== null && recText !== liveText) await a.setTask(recText);
    a.reset();
    for (let i = 0; i < n; i++) {
      const k = n - 1 - i;
      for (let v = 0; v < views; v++) {
        const rgb = rec.frame(k, v);
        if (i === 0) passWindows[v].setStart(rgb, i); // the reversed video starts at the episode's last frame
        passWindows[v].push(rgb, i);
      }
      try {
        await a.evaluate(passWindows, all, passValues);
        for (let v = 0; v < views; v++) out[i * views + v] = passValues.progress[v];
      } catch {
        // A failed run leaves NaN: VOC skips it.
      }
    }
    if (a.needsText && liveText !== null && recText !== liveText) await a.setTask(liveText);
    return out;
  }
}

main()
  .catch((err: unknown) => post({ type: 'fatal', error: errorInfo(err) }))
  // Closing the port lets the thread exit once the loop has stopped (or the load failed).
  .finally(() => port.close());
