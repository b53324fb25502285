// Robot side of signed policy deployment: take the task's manifest from MQTT, verify its ed25519 signature
// against the trusted keys, download the model in pieces and check every hash, load and warm it up off the
// control loop, then ask the loop to swap it in between two ticks. Keeps the previous version for rollback.
// Releases are numbered (manifest.sequence): only one newer than what the robot has run is taken, so a replayed
// old manifest is refused; `rollback` is the only way back. What runs, what ran before, the highest sequence and
// the versions rolled back from are kept in the state folder (PolicyStore) and hold across restarts.
// Anything that fails a check is refused with a log line and a 'policy' event; the running policy keeps running.
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  MAX_MANIFEST_BYTES, PolicyManifestSchema, checkManifestForRobot, keyIdOf, type PolicyManifest,
} from '../contracts/policy-manifest.js';
import type { EventMessage } from '../contracts/messages.js';
import type { EpisodeStart, EpisodeSummary, StepSink, StepView } from '../control/step.js';
import { topics } from '../contracts/topics.js';
import { formatIssues } from '../util/validation.js';
import { StriatumError, isStriatumError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ActionSource } from './action-source.js';
import { OnnxPolicy, checkMetadataAgainstRobot, type ExecutionProvider, type PolicyExpectations } from './onnx-policy.js';
import type { RestoredPolicies } from './policy-restore.js';
import type { PolicyState, PolicyStore, StoredRelease } from './policy-store.js';
import type { PolicyRefusalCode } from '../contracts/event-codes.js';

export type RefusalCode = PolicyRefusalCode;

/** What the manager needs of the MQTT link (RobotLink implements it). */
export interface PolicyLinkPort {
  subscribe(filter: string, handler: (topic: string, payload: Buffer) => void): void;
  unsubscribe(filter: string): void;
  publishEvent(e: Pick<EventMessage, 'kind' | 'code' | 'message'>): void;
}

/** What the manager needs of the control loop (ControlLoop implements it). */
export interface SwappableLoop {
  readonly activeSource: ActionSource;
  requestSourceSwap(next: ActionSource): void;
  onSourceSwap(listener: (previous: ActionSource, next: ActionSource) => void): void;
}

/** What verifying and loading a signed release needs: whom to trust, what must fit, how to run it. */
export interface ReleaseCheckOptions {
  readonly task: string;
  readonly trustedKeys: ReadonlyMap<string, KeyObject>;
  readonly expectations: PolicyExpectations;
  readonly providers: readonly ExecutionProvider[];
  readonly threads: number;
  readonly warmupRuns: number;
}

export interface PolicyManagerOptions extends ReleaseCheckOptions {
  readonly robotId: string;
  readonly autoRollback: { episodes: number; margin: number } | null;
  readonly link: PolicyLinkPort;
  readonly loop: SwappableLoop;
  readonly logger: Logger;
  /** The state folder: verified releases and the deployment record; null keeps nothing across restarts. */
  readonly store: PolicyStore | null;
  /** What restorePolicies() brought back at start-up (the loop already runs its active source). */
  readonly restored?: RestoredPolicies;
  readonly downloadTimeoutMs?: number;
  /** Called inside the tick right after a swap was applied (status, episode messages): keep it cheap. */
  readonly onActivated?: (next: ActionSource, previous: ActionSource) => void;
}

interface Download {
  readonly manifest: PolicyManifest;
  /** The manifest as received (signed), kept in the state folder. */
  readonly manifestBytes: Buffer;
  readonly pieces: (Buffer | null)[];
  received: number;
  readonly filter: string;
  readonly timer: NodeJS.Timeout;
}

/** Read PEM public keys; each must be ed25519. Returns them by key id. */
export function loadTrustedKeys(paths: readonly string[]): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  for (const path of paths) {
    let key: KeyObject;
    try {
      key = createPublicKey(readFileSync(path));
    } catch (err) {
      throw new StriatumError('STRIATUM_ERR_CONFIG', `policy.trusted_keys: cannot read public key ${path}: ${(err as Error).message}`);
    }
    if (key.asymmetricKeyType !== 'ed25519') throw new StriatumError('STRIATUM_ERR_CONFIG', `policy.trusted_keys: ${path} is a ${key.asymmetricKeyType} key, ed25519 is required`);
    keys.set(keyIdOf(key), key);
  }
  return keys;
}

export class PolicyManager {
  refused = 0;
  deployed = 0;
  rollbacks = 0;
  lastRefusal: RefusalCode | null = null;

  private download: Download | null = null;
  /** The source swapped out last, kept loaded for rollback; null until the first swap. */
  private previous: ActionSource | null = null;
  /** Versions rolled back from: their (retained) manifest is not taken again until a newer release runs. */
  private readonly rejectedVersions: Set<string>;
  /** The newest release run; an older sequence, or another model under the same one, is a replay. */
  private highest: PolicyState['highest'];
  /** The stored release behind each source this manager loaded (the shipped model has none). */
  private readonly releases = new Map<ActionSource, StoredRelease>();
  /** Episode outcomes of the active version; the previous version's rate is kept when it is swapped out. */
  private outcomes: boolean[] = [];
  private previousRate: number | null = null;
  private activeIsUpdate = false;
  private skipEpisode = false;
  private pendingVersion: string | null = null;
  private pendingSequence: number | null = null;
  /** Handed to the loop and not applied yet. */
  private requested: ActionSource | null = null;
  private activeIsUpdatePending = false;
  private readonly manifestTopic: string;

  constructor(private readonly o: PolicyManagerOptions) {
    this.manifestTopic = topics.policyManifest(o.task);
    this.rejectedVersions = new Set(o.store?.state.rolled_back ?? []);
    this.highest = o.store?.state.highest ?? null;
    this.previous = o.restored?.previous ?? null;
    for (const [source, release] of o.restored?.releases ?? []) this.releases.set(source, { version: release.version, sha256: release.sha256, sequence: release.sequence });
    o.loop.onSourceSwap((previous, next) => this.swapped(previous, next));
  }

  get activeVersion(): string {
    return this.o.loop.activeSource.version;
  }

  get previousVersion(): string | null {
    return this.previous?.version ?? null;
  }

  start(): void {
    if (this.o.trustedKeys.size === 0) this.o.logger.info('no trusted policy keys configured: every policy manifest will be refused');
    this.o.link.subscribe(this.manifestTopic, (_topic, payload) => this.onManifest(payload));
    this.persist(); // the record now says what actually runs (a stored release that failed to verify is dropped)
  }

  /** Handle one manifest payload (exposed for tests that drive the manager without a broker). */
  onManifest(payload: Buffer): void {
    if (payload.length === 0) return; // a cleared retained manifest
    if (payload.length > MAX_MANIFEST_BYTES) return this.refuse('manifest_invalid', `manifest of ${payload.length} bytes exceeds ${MAX_MANIFEST_BYTES}`, null);
    let raw: unknown;
    try {
      raw = JSON.parse(payload.toString('utf8'));
    } catch {
      return this.refuse('manifest_invalid', 'manifest is not JSON', null);
    }
    const parsed = PolicyManifestSchema.safeParse(raw);
    if (!parsed.success) return this.refuse('manifest_invalid', `manifest is invalid: ${formatIssues(parsed.error.issues).slice(0, 3).join('; ')}`, null);
    const m = parsed.data;
    const refusal = checkManifestForRobot(m, this.o.trustedKeys, this.o.task);
    if (refusal !== null) return this.refuse(refusal.code, refusal.message, m.version);
    if (m.version === this.activeVersion || m.version === this.pendingVersion) {
      this.o.logger.debug('policy manifest names the version already active or pending', { version: m.version });
      return;
    }
    if (this.rejectedVersions.has(m.version)) {
      this.o.logger.info('policy manifest names a version that was rolled back; not taking it again', { version: m.version });
      return;
    }
    const h = this.highest;
    if (h !== null && (m.sequence < h.sequence || (m.sequence === h.sequence && m.model.sha256 !== h.sha256))) {
      return this.refuse('stale_version', `policy ${m.version} has release sequence ${m.sequence}, this robot has run sequence ${h.sequence}: an older release is taken only by the rollback command`, m.version);
    }
    const inFlight = this.download?.manifest.sequence ?? this.pendingSequence;
    if (inFlight !== null && m.sequence <= inFlight) {
      return this.refuse('stale_version', `policy ${m.version} has release sequence ${m.sequence}, a release with sequence ${inFlight} is being deployed`, m.version);
    }
    try {
      checkMetadataAgainstRobot(m.metadata, this.o.expectations);
    } catch (err) {
      const details = isStriatumError(err) ? err.details.join('; ') : String(err);
      return this.refuse('shape_mismatch', `policy ${m.version} does not fit this robot: ${details}`, m.version);
    }
    this.startDownload(m, payload);
  }

  private startDownload(m: PolicyManifest, manifestBytes: Buffer): void {
    this.cancelDownload();
    const filter = topics.policyPieces(m.task, m.model.sha256);
    const timer = setTimeout(() => {
      if (this.download?.manifest !== m) return;
      const got = this.download.received;
      this.cancelDownload();
      this.refuse('download_timeout', `policy ${m.version}: ${got} of ${m.pieces.length} pieces arrived in time`, m.version);
    }, this.o.downloadTimeoutMs ?? 60_000);
    timer.unref();
    this.download = { manifest: m, manifestBytes, pieces: new Array<Buffer | null>(m.pieces.length).fill(null), received: 0, filter, timer };
    this.o.logger.info('policy update verified; downloading', { version: m.version, parent: m.parent_version, key_id: m.key_id, bytes: m.model.size, pieces: m.pieces.length });
    this.o.link.subscribe(filter, (topic, payload) => this.onPiece(m, topic, payload));
  }

  private cancelDownload(): void {
    const d = this.download;
    if (d === null) return;
    clearTimeout(d.timer);
    this.o.link.unsubscribe(d.filter);
    this.download = null;
  }

  private onPiece(m: PolicyManifest, topic: string, payload: Buffer): void {
    const d = this.download;
    if (d === null || d.manifest !== m || payload.length === 0) return;
    const index = Number(topic.slice(topic.lastIndexOf('/') + 1));
    if (!Number.isInteger(index) || index < 0 || index >= m.pieces.length || d.pieces[index] !== null) return;
    const want = m.pieces[index];
    const digest = createHash('sha256').update(payload).digest('hex');
    if (payload.length !== want.size || digest !== want.sha256) {
      this.cancelDownload();
      return this.refuse('piece_hash_mismatch', `policy ${m.version}: piece ${index} has ${payload.length} bytes and sha256 ${digest}, manifest says ${want.size} bytes and ${want.sha256}`, m.version);
    }
    d.pieces[index] = Buffer.from(payload); // a copy: the MQTT client may reuse its buffer
    if (++d.received < m.pieces.length) return;
    this.cancelDownload();
    const model = Buffer.concat(d.pieces as Buffer[]);
    const whole = createHash('sha256').update(model).digest('hex');
    if (whole !== m.model.sha256 || model.length !== m.model.size) {
      return this.refuse('model_hash_mismatch', `policy ${m.version}: assembled model has sha256 ${whole}, manifest says ${m.model.sha256}`, m.version);
    }
    this.pendingVersion = m.version;
    this.pendingSequence = m.sequence;
    this.loadAndSwap(m, model, d.manifestBytes).catch((err: unknown) => this.o.logger.error('policy deployment failed', { error: String(err) }));
  }

  /**
   * Load and warm up in the background (onnxruntime runs on its own threads), keep the release in the state
   * folder, then hand it to the loop. The session is made from the verified bytes in memory and the metadata of
   * the signed manifest: nothing is read back from disk in between.
   */
  private async loadAndSwap(m: PolicyManifest, model: Buffer, manifestBytes: Buffer): Promise<void> {
    let policy: OnnxPolicy;
    try {
      policy = await OnnxPolicy.fromBytes(model, m.metadata, {
        providers: this.o.providers, threads: this.o.threads, warmupRuns: this.o.warmupRuns, logger: this.o.logger, what: `policy ${m.version}`,
      }, this.o.expectations);
    } catch (err) {
      this.pendingVersion = null;
      this.pendingSequence = null;
      const code: RefusalCode = isStriatumError(err, 'STRIATUM_ERR_POLICY_SHAPE') ? 'shape_mismatch' : 'load_failed';
      const details = isStriatumError(err) && err.details.length > 0 ? `: ${err.details.join('; ')}` : '';
      return this.refuse(code, `policy ${m.version} could not be loaded: ${(err as Error).message}${details}`, m.version);
    }
    if (this.pendingVersion === m.version && this.o.store !== null) {
      try {
        await this.o.store.saveRelease(manifestBytes, model, m.model.sha256);
      } catch (err) {
        this.pendingVersion = null;
        this.pendingSequence = null;
        await policy.close();
        return this.refuse('store_failed', `policy ${m.version} could not be kept in ${this.o.store.dir}, so it would not survive a restart: ${(err as Error).message}`, m.version);
      }
    }
    if (this.pendingVersion !== m.version) {
      // A newer manifest or a rollback came in while this one loaded.
      await policy.close();
      return;
    }
    this.releases.set(policy, { version: m.version, sha256: m.model.sha256, sequence: m.sequence });
    this.o.logger.info('policy update loaded and warmed up; swapping at the next tick', { version: m.version, provider: policy.provider });
    this.requestSwap(policy, true);
  }

  /** Hand a source to the loop; a request it has not applied yet is replaced, and its source closed here. */
  private requestSwap(next: ActionSource, isUpdate: boolean): void {
    const replaced = this.requested;
    this.requested = next;
    this.activeIsUpdatePending = isUpdate;
    this.o.loop.requestSourceSwap(next);
    if (replaced !== null && replaced !== next && replaced !== this.previous && replaced !== this.o.loop.activeSource) {
      replaced.close().catch((err: unknown) => this.o.logger.warn('closing a superseded policy failed', { error: String(err) }));
    }
  }

  /** The `rollback` command: swap back to the version that ran before. */
  rollback(reason: string): boolean {
    const prev = this.previous;
    if (prev === null) {
      this.o.link.publishEvent({ kind: 'policy', code: 'rollback_unavailable', message: 'no previous policy version to roll back to' });
      this.o.logger.warn('rollback requested, but there is no previous policy version', { reason });
      return false;
    }
    const from = this.activeVersion;
    this.rejectedVersions.add(from);
    this.rollbacks++;
    this.pendingVersion = null;
    this.pendingSequence = null;
    this.cancelDownload();
    this.o.logger.warn('policy rollback', { from, to: prev.version, reason });
    this.o.link.publishEvent({ kind: 'policy', code: 'rollback', message: `rolling back from ${from} to ${prev.version}: ${reason}` });
    this.requestSwap(prev, false);
    return true;
  }

  /** Updates deployed, refused and rolled back since start-up (telemetry). */
  stats(): { deployed: number; refused: number; rollbacks: number } {
    return { deployed: this.deployed, refused: this.refused, rollbacks: this.rollbacks };
  }

  /** Episode outcomes, for automatic rollback. */
  onEpisodeEnd(success: boolean): void {
    if (this.skipEpisode) { this.skipEpisode = false; return; } // started under the previous version
    this.outcomes.push(success);
    const ar = this.o.autoRollback;
    if (ar === null) return;
    if (this.outcomes.length > ar.episodes) this.outcomes.shift();
    if (!this.activeIsUpdate || this.previousRate === null || this.outcomes.length < ar.episodes) return;
    const rate = this.outcomes.filter(Boolean).length / this.outcomes.length;
    if (rate < this.previousRate - ar.margin) {
      this.activeIsUpdate = false;
      const back = this.previous?.version ?? null;
      if (back !== null && this.rejectedVersions.has(back)) {
        // Never back to a version this robot already left for doing worse: that would only swap one bad for another.
        this.o.logger.warn('automatic rollback skipped: the previous version was itself rolled back', { active: this.activeVersion, previous: back, rate });
        this.o.link.publishEvent({ kind: 'policy', code: 'rollback_unavailable', message: `automatic rollback skipped: ${back} was rolled back before for doing worse` });
        return;
      }
      this.rollback(`automatic: success rate ${rate.toFixed(2)} over ${ar.episodes} episodes is below the previous version's ${this.previousRate.toFixed(2)} by more than ${ar.margin}`);
    }
  }

  private swapped(previous: ActionSource, next: ActionSource): void {
    if (this.requested === next) this.requested = null;
    const older = this.previous;
    this.previous = previous;
    if (older !== null && older !== next && older !== previous) {
      older.close().catch((err: unknown) => this.o.logger.warn('closing an old policy failed', { error: String(err) }));
    }
    // The version swapped out is a baseline only after the full window of episodes (auto_rollback.episodes): a rate
    // from a handful of episodes would roll back a good update on noise.
    const minimum = this.o.autoRollback?.episodes ?? 1;
    this.previousRate = this.outcomes.length >= minimum ? this.outcomes.filter(Boolean).length / this.outcomes.length : null;
    this.outcomes = [];
    this.skipEpisode = true;
    this.activeIsUpdate = this.activeIsUpdatePending;
    this.activeIsUpdatePending = false;
    this.pendingVersion = null;
    this.pendingSequence = null;
    if (this.activeIsUpdate) this.deployed++;
    // Called inside the tick: the message and the state file go out after it, not during it; the event is queued
    // before onActivated's status, so a watcher that sees the new version in the status has the event already.
    const isUpdate = this.activeIsUpdate;
    setImmediate(() => {
      const release = this.releases.get(next);
      if (isUpdate && release !== undefined) {
        this.highest = { sequence: release.sequence, sha256: release.sha256 };
        this.rejectedVersions.clear(); // a newer release runs: versions rolled back from are older still
      }
      this.persist();
      this.o.link.publishEvent({ kind: 'policy', code: 'policy_swapped', message: `policy ${next.version} active (was ${previous.version})` });
    });
    this.o.onActivated?.(next, previous);
  }

  /** Write what runs, what ran before, the highest sequence and the rolled-back versions to the state folder. */
  private persist(): void {
    const store = this.o.store;
    if (store === null) return;
    const active = this.o.loop.activeSource;
    const prev = this.previous;
    const state: PolicyState = {
      format: 'striatum.policy-state/v1', task: this.o.task,
      current: this.releases.get(active) ?? null,
      previous: prev === null ? null : this.releases.get(prev) ?? 'shipped',
      highest: this.highest,
      rolled_back: [...this.rejectedVersions],
    };
    store.save(state).catch((err: unknown) => {
      this.o.logger.error('policy state could not be written; the running policy will not survive a restart', { dir: store.dir, error: String(err) });
      this.o.link.publishEvent({ kind: 'policy', code: 'state_write_failed', message: `policy state in ${store.dir} could not be written: ${String(err)}` });
    });
  }

  private refuse(code: RefusalCode, message: string, version: string | null): void {
    this.refused++;
    this.lastRefusal = code;
    this.o.logger.warn('policy update refused; the running policy keeps running', { code, version, active: this.activeVersion, reason: message });
    this.o.link.publishEvent({ kind: 'policy', code: `refused_${code}`, message });
  }

  /** Stop taking updates; close the kept previous version. */
  async close(): Promise<void> {
    this.cancelDownload();
    this.o.link.unsubscribe(this.manifestTopic);
    const active = this.o.loop.activeSource;
    for (const kept of new Set([this.previous, this.requested])) {
      if (kept !== null && kept !== active) await kept.close();
    }
    this.previous = null;
    this.requested = null;
    await this.o.store?.flush();
  }
}

/**
 * The auto-rollback window as a StepSink: each finished episode's success goes to the policy manager: the summary's
 * verdict, which in learning mode is the success model's (never its ground_truth, the simulator's). An aborted
 * episode (pause, e-stop, fault) says nothing about the policy and is not counted. The sink is built before the
 * loop and the manager after it (the manager swaps the loop's source), so the manager is attached at start-up.
 */
export class RollbackTracker implements StepSink {
  private manager: Pick<PolicyManager, 'onEpisodeEnd'> | null = null;

  attach(manager: Pick<PolicyManager, 'onEpisodeEnd'>): void {
    this.manager = manager;
  }

  onEpisodeStart(_episode: EpisodeStart): void {}

  onStep(_step: StepView): void {}

  onEpisodeEnd(summary: EpisodeSummary): void {
    if (summary.outcome !== 'aborted') this.manager?.onEpisodeEnd(summary.success);
  }
}
