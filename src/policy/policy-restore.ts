// At start-up: run the over-the-air release the robot ran before its restart, verified again from its state
// folder (signature, model hash, fit to the robot, a real run), instead of the shipped model. A release that no
// longer verifies is logged and reported with a 'policy' event, and the shipped model runs.
import { createHash } from 'node:crypto';
import { PolicyManifestSchema, checkManifestForRobot, type PolicyManifest } from '../contracts/policy-manifest.js';
import { isStriatumError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ActionSource } from './action-source.js';
import { OnnxPolicy } from './onnx-policy.js';
import type { PolicyLinkPort, ReleaseCheckOptions } from './policy-manager.js';
import type { PolicyStore, StoredRelease } from './policy-store.js';

export interface RestoreOptions extends ReleaseCheckOptions {
  readonly store: PolicyStore;
  /** The model from policy.model, already loaded: the fallback. */
  readonly shipped: ActionSource;
  readonly link: Pick<PolicyLinkPort, 'publishEvent'>;
  readonly logger: Logger;
}

export interface RestoredPolicies {
  readonly active: ActionSource;
  /** What `rollback` returns to; null when nothing ran before. */
  readonly previous: ActionSource | null;
  /** The stored release behind each restored source (the shipped model has none). */
  readonly releases: Map<ActionSource, StoredRelease & { manifest: PolicyManifest }>;
}

/** Verify one stored release and load it; throws with a readable message when anything does not check out. */
export async function loadStoredRelease(o: RestoreOptions, ref: StoredRelease): Promise<{ policy: OnnxPolicy; manifest: PolicyManifest }> {
  const { manifest: manifestBytes, model } = await o.store.readRelease(ref.sha256, Number.MAX_SAFE_INTEGER);
  const parsed = PolicyManifestSchema.safeParse(JSON.parse(manifestBytes.toString('utf8')));
  if (!parsed.success) throw new Error('stored manifest is invalid');
  const m = parsed.data;
  const refusal = checkManifestForRobot(m, o.trustedKeys, o.task);
  if (refusal !== null) throw new Error(`stored manifest refused (${refusal.code}): ${refusal.message}`);
  if (m.version !== ref.version || m.model.sha256 !== ref.sha256 || m.sequence !== ref.sequence) {
    throw new Error(`stored manifest names ${m.version} (${m.model.sha256}, sequence ${m.sequence}), the state names ${ref.version} (${ref.sha256}, sequence ${ref.sequence})`);
  }
  const digest = createHash('sha256').update(model).digest('hex');
  if (digest !== m.model.sha256 || model.length !== m.model.size) throw new Error(`stored model has sha256 ${digest}, the manifest says ${m.model.sha256}`);
  const policy = await OnnxPolicy.fromBytes(model, m.metadata, {
    providers: o.providers, threads: o.threads, warmupRuns: o.warmupRuns, logger: o.logger, what: `stored policy ${m.version}`,
  }, o.expectations);
  return { policy, manifest: m };
}

export async function restorePolicies(o: RestoreOptions): Promise<RestoredPolicies> {
  const state = o.store.state;
  const releases: RestoredPolicies['releases'] = new Map();
  const attempt = async (ref: StoredRelease, role: 'current' | 'previous'): Promise<ActionSource | null> => {
    try {
      const { policy, manifest } = await loadStoredRelease(o, ref);
      releases.set(policy, { ...ref, manifest });
      return policy;
    } catch (err) {
      const details = isStriatumError(err) && err.details.length > 0 ? `: ${err.details.join('; ')}` : '';
      const message = `stored ${role} policy ${ref.version} does not verify, the shipped policy ${o.shipped.version} stands in: ${(err as Error).message}${details}`;
      o.logger.error('stored policy refused at start-up', { role, version: ref.version, reason: message });
      o.link.publishEvent({ kind: 'policy', code: 'restore_failed', message });
      return null;
    }
  };
  let active: ActionSource = o.shipped;
  if (state.current !== null) {
    const restored = await attempt(state.current, 'current');
    if (restored !== null) {
      active = restored;
      o.logger.info('policy restored from the state directory', { version: restored.version, sequence: state.current.sequence, dir: o.store.dir });
    }
  }
  let previous: ActionSource | null = null;
  if (state.previous === 'shipped') previous = active === o.shipped ? null : o.shipped;
  else if (state.previous !== null) previous = (await attempt(state.previous, 'previous')) ?? (active === o.shipped ? null : o.shipped);
  if (active !== o.shipped && previous !== o.shipped) await o.shipped.close();
  return { active, previous, releases };
}
