// PolicyManager without a broker: a fake link delivers manifests and pieces by hand, a fake loop applies swaps at
// once; models are real ONNX files loaded by onnxruntime. Covers the canonical form, refusals and auto rollback.
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { canonicalJson, keyIdOf, manifestSigningBytes, signManifest, type PolicyManifest } from '../src/contracts/policy-manifest.js';
import { topics } from '../src/contracts/topics.js';
import { silentLogger } from '../src/log.js';
import type { ActionSource } from '../src/policy/action-source.js';
import { OnnxPolicy, type PolicyExpectations } from '../src/policy/onnx-policy.js';
import type { StriatumError } from '../src/errors.js';
import { PolicyManager, RollbackTracker, loadTrustedKeys, type PolicyLinkPort, type SwappableLoop } from '../src/policy/policy-manager.js';
import type { EpisodeSummary } from '../src/control/step.js';
import { restorePolicies } from '../src/policy/policy-restore.js';
import { PolicyStore } from '../src/policy/policy-store.js';
import { buildManifest, expectationsFromMetadata, findPolicyInDir, generateKeyFiles, validateForRelease } from '../src/updater/registry.js';
import { SIM_FIELDS, tempDir, waitFor, writeLinearPolicy } from './helpers/fixtures.js';
import { buildOnnxModel } from './helpers/onnx-builder.js';

const WANT: PolicyExpectations = {
  observationFields: SIM_FIELDS, jointNames: ['x', 'y'], mode: 'velocity', chunk: 1, execution: 'ensemble',
  ensembleDecay: 0.01, scale: new Float64Array([1, 1]), normalization: 'model',
};

function fakeSource(version: string): ActionSource & { closed: boolean } {
  return { name: 'fake', version, provider: 'scripted', lastStepUs: 0, closed: false, act() {}, reset() {}, async close() { this.closed = true; } };
}

class FakeLink implements PolicyLinkPort {
  readonly handlers = new Map<string, (topic: string, payload: Buffer) => void>();
  readonly events: { code: string; message: string }[] = [];
  subscribe(filter: string, handler: (topic: string, payload: Buffer) => void): void { this.handlers.set(filter, handler); }
  unsubscribe(filter: string): void { this.handlers.delete(filter); }
  publishEvent(e: { kind: string; code: string; message: string }): void { this.events.push(e); }
  deliverPieces(m: PolicyManifest, chunks: readonly Buffer[]): void {
    const h = this.handlers.get(topics.policyPieces(m.task, m.model.sha256));
    assert.ok(h, 'subscribed to the pieces');
    chunks.forEach((c, i) => h(topics.policyPiece(m.task, m.model.sha256, i), c));
  }
}

class FakeLoop implements SwappableLoop {
  activeSource: ActionSource;
  swaps = 0;
  private listener: ((p: ActionSource, n: ActionSource) => void) | null = null;
  constructor(initial: ActionSource) { this.activeSource = initial; }
  requestSourceSwap(next: ActionSource): void {
    const prev = this.activeSource;
    this.activeSource = next;
    this.swaps++;
    this.listener?.(prev, next);
  }
  onSourceSwap(l: (p: ActionSource, n: ActionSource) => void): void { this.listener = l; }
}

function release(dir: string, version: string, options: { gain?: number; obsDim?: number } = {}): string {
  mkdirSync(dir, { recursive: true });
  writeLinearPolicy(dir, options);
  const metaPath = join(dir, 'policy.json');
  const meta = JSON.parse(readFileSync(metaPath, 'utf8'));
  meta.version = version;
  writeFileSync(metaPath, JSON.stringify(meta));
  return dir;
}

function setup(key: KeyObject, autoRollback: { episodes: number; margin: number } | null = null) {
  const dir = tempDir();
  const pub = join(dir, 'trusted.pem');
  writeFileSync(pub, createPublicKey(key).export({ type: 'spki', format: 'pem' }));
  const link = new FakeLink();
  const initial = fakeSource('v1');
  const loop = new FakeLoop(initial);
  const manager = new PolicyManager({
    task: 'push', robotId: 'unit', trustedKeys: loadTrustedKeys([pub]), expectations: WANT, providers: ['cpu'], threads: 1,
    warmupRuns: 1, autoRollback, link, loop, logger: silentLogger, store: null, downloadTimeoutMs: 10_000,
  });
  manager.start();
  return { dir, link, loop, manager, initial };
}

test('canonical JSON sorts keys at every level and drops whitespace', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 'é' }], c: null } }), '{"a":{"c":null,"d":[3,{"y":"é","z":1}]},"b":1}');
  assert.throws(() => canonicalJson({ x: Number.NaN }));
  const { manifest } = buildManifest({ modelDir: release(tempDir(), 'v9') });
  const bytes = manifestSigningBytes(manifest).toString('utf8');
  assert.ok(!/\s/.test(bytes.replace(/"[^"]*"/g, '')), 'no whitespace outside strings');
  assert.ok(bytes.startsWith('{"created":'), 'keys sorted');
});

test('keys generate writes a 0600 private key and a public key with a stable id', () => {
  const dir = tempDir();
  const files = generateKeyFiles(join(dir, 'keys'));
  assert.equal(statSync(files.privatePath).mode & 0o777, 0o600);
  const keys = loadTrustedKeys([files.publicPath]);
  assert.equal(keys.size, 1);
  assert.throws(() => generateKeyFiles(join(dir, 'keys')), 'never overwrites a key');
});

test('validateForRelease runs the model in onnxruntime and reports action statistics', async () => {
  const ok = findPolicyInDir(release(tempDir(), 'v2', { gain: 2 }));
  const report = await validateForRelease(ok.modelPath, ok.metadataPath, { ...WANT, actionAbsMax: 100 });
  assert.equal(report.ok, true, report.problems.join('\n'));
  assert.equal(report.actionMean.length, 2);
  const tight = await validateForRelease(ok.modelPath, ok.metadataPath, { ...WANT, actionAbsMax: 1e-6 });
  assert.equal(tight.ok, false);
  const bad = findPolicyInDir(release(tempDir(), 'v3', { obsDim: 6 }));
  const shape = await validateForRelease(bad.modelPath, bad.metadataPath, expectationsFromMetadata(bad.metadata));
  assert.equal(shape.ok, false);
  assert.match(shape.problems[0], /STRIATUM_ERR_POLICY_SHAPE/);
});

test('a valid update is loaded and swapped; refusals leave the active version alone', async () => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const other = generateKeyPairSync('ed25519').privateKey;
  const { dir, link, loop, manager } = setup(privateKey);
  const send = (m: unknown) => manager.onManifest(Buffer.from(JSON.stringify(m)));

  const { manifest, chunks } = buildManifest({ modelDir: release(join(dir, 'r2'), 'v2') });
  send(manifest);
  assert.equal(link.events.at(-1)?.code, 'refused_unsigned');
  send(signManifest(manifest, other));
  assert.equal(link.events.at(-1)?.code, 'refused_untrusted_key');
  const signed = signManifest(manifest, privateKey);
  assert.equal(signed.key_id, keyIdOf(loadTrustedKeys([join(dir, 'trusted.pem')]).values().next().value!));
  send({ ...signed, parent_version: 'forged' });
  assert.equal(link.events.at(-1)?.code, 'refused_bad_signature');
  send({ ...signed, pieces: 'nope' });
  assert.equal(link.events.at(-1)?.code, 'refused_manifest_invalid');
  assert.equal(loop.swaps, 0);

  send(signed);
  link.deliverPieces(signed, chunks);
  await waitFor('swap', () => loop.swaps === 1);
  assert.equal(manager.activeVersion, 'v2');
  assert.equal(manager.previousVersion, 'v1');
  assert.equal(manager.refused, 4);
  await manager.close();
  await loop.activeSource.close();
});

test('automatic rollback when the new version does worse than the old one by the margin', async () => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const { dir, link, loop, manager } = setup(privateKey, { episodes: 4, margin: 0.2 });
  for (let i = 0; i < 4; i++) manager.onEpisodeEnd(true); // v1: 100 %
  const { manifest, chunks } = buildManifest({ modelDir: release(join(dir, 'r2'), 'v2') });
  const signed = signManifest(manifest, privateKey);
  manager.onManifest(Buffer.from(JSON.stringify(signed)));
  link.deliverPieces(signed, chunks);
  await waitFor('swap', () => loop.swaps === 1);
  manager.onEpisodeEnd(true); // the episode the swap happened in is not counted
  for (let i = 0; i < 3; i++) manager.onEpisodeEnd(i === 0);
  assert.equal(loop.swaps, 1, 'not judged before K episodes');
  manager.onEpisodeEnd(false); // v2: 1 of 4
  assert.equal(loop.swaps, 2);
  assert.equal(manager.activeVersion, 'v1');
  assert.ok(link.events.some((e) => e.code === 'rollback' && /automatic/.test(e.message)));
  // The rolled-back version's retained manifest is not taken again.
  manager.onManifest(Buffer.from(JSON.stringify(signed)));
  assert.equal(link.handlers.has(topics.policyPieces(signed.task, signed.model.sha256)), false);
  await manager.close();
});

test('rollback without a previous version, and a download whose pieces never come, are refused cleanly', async () => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const { dir, link, loop, manager } = setup(privateKey);
  assert.equal(manager.rollback('test'), false);
  assert.equal(link.events.at(-1)?.code, 'rollback_unavailable');
  const quick = new PolicyManager({
    task: 'push', robotId: 'unit-2', trustedKeys: loadTrustedKeys([join(dir, 'trusted.pem')]), expectations: WANT, providers: ['cpu'],
    threads: 1, warmupRuns: 1, autoRollback: null, link, loop, logger: silentLogger, store: null, downloadTimeoutMs: 50,
  });
  const { manifest } = buildManifest({ modelDir: release(join(dir, 'r3'), 'v3'), pieceBytes: 64 });
  quick.onManifest(Buffer.from(JSON.stringify(signManifest(manifest, privateKey))));
  await waitFor('timeout refusal', () => link.events.find((e) => e.code === 'refused_download_timeout'));
  assert.equal(loop.swaps, 0);
  assert.equal(quick.activeVersion, 'v1');
  await quick.close();
  await manager.close();
});

/** A model whose output dimensions are symbolic and which returns 1 value where the robot has 2 joints. */
function writeShortOutputPolicy(dir: string, version: string): string {
  mkdirSync(dir, { recursive: true });
  writeLinearPolicy(dir);
  writeFileSync(join(dir, 'policy.onnx'), buildOnnxModel({
    inputs: [{ name: 'observation', shape: ['batch', 8] }],
    outputs: [{ name: 'action', shape: ['batch', 'steps', 'joints'] }],
    // The target shape is computed from the observation, so onnxruntime cannot infer the output shape at load.
    nodes: [
      { op: 'MatMul', inputs: ['observation', 'W'], outputs: ['flat'] },
      { op: 'ReduceMax', inputs: ['observation'], outputs: ['peak'], attrs: { keepdims: 0 } },
      { op: 'Mul', inputs: ['peak', 'zeros'], outputs: ['nothing'] },
      { op: 'Add', inputs: ['nothing', 'target'], outputs: ['shape_f'] },
      { op: 'Cast', inputs: ['shape_f'], outputs: ['shape'], attrs: { to: 7 } },
      { op: 'Reshape', inputs: ['flat', 'shape'], outputs: ['action'] },
    ],
    initializers: [
      { name: 'W', dims: [8, 1], values: new Array<number>(8).fill(0.5) },
      { name: 'zeros', dims: [3], values: [0, 0, 0] }, { name: 'target', dims: [3], values: [-1, 1, 1] },
    ],
  }));
  const metaPath = join(dir, 'policy.json');
  const meta = JSON.parse(readFileSync(metaPath, 'utf8'));
  meta.version = version;
  writeFileSync(metaPath, JSON.stringify(meta));
  return dir;
}

test('a model that returns fewer action values than joints is refused at load and as an update; the old policy keeps running', async () => {
  const dir = writeShortOutputPolicy(tempDir(), 'short-1');
  await assert.rejects(
    OnnxPolicy.load({ modelPath: join(dir, 'policy.onnx'), providers: ['cpu'], threads: 1, warmupRuns: 0, logger: silentLogger }, WANT),
    (err: StriatumError) => {
      assert.equal(err.code, 'STRIATUM_ERR_POLICY_SHAPE');
      assert.ok(err.details.some((d) => d.includes('"action"') && d.includes('dimension 2')), err.details.join('\n'));
      return true;
    },
  );

  const { privateKey } = generateKeyPairSync('ed25519');
  const { dir: root, link, loop, manager } = setup(privateKey);
  const { manifest, chunks } = buildManifest({ modelDir: writeShortOutputPolicy(join(root, 'short'), 'short-2') });
  const signed = signManifest(manifest, privateKey);
  manager.onManifest(Buffer.from(JSON.stringify(signed)));
  link.deliverPieces(signed, chunks);
  await waitFor('refusal', () => link.events.find((e) => e.code === 'refused_shape_mismatch'));
  assert.equal(loop.swaps, 0);
  assert.equal(manager.activeVersion, 'v1');
  await manager.close();
});

/** One robot start on a state folder: restore what it ran, then take manifests (fake link and loop). */
async function boot(stateDir: string, pub: string, robotId = 'unit') {
  const link = new FakeLink();
  const shipped = fakeSource('v1');
  const store = await PolicyStore.open(stateDir, 'push', silentLogger);
  const trustedKeys = loadTrustedKeys([pub]);
  const common = { task: 'push', trustedKeys, expectations: WANT, providers: ['cpu'] as const, threads: 1, warmupRuns: 1, link, logger: silentLogger };
  const restored = await restorePolicies({ ...common, store, shipped });
  const loop = new FakeLoop(restored.active);
  const manager = new PolicyManager({ ...common, robotId, autoRollback: null, loop, store, restored, downloadTimeoutMs: 10_000 });
  manager.start();
  const deploy = async (m: PolicyManifest, chunks: readonly Buffer[]): Promise<void> => {
    const swaps = loop.swaps;
    manager.onManifest(Buffer.from(JSON.stringify(m)));
    link.deliverPieces(m, chunks);
    await waitFor(`swap to ${m.version}`, () => loop.swaps === swaps + 1);
  };
  const stop = async (): Promise<void> => {
    await new Promise((r) => setImmediate(r)); // the state write is queued after the swap
    await manager.close();
    await loop.activeSource.close();
  };
  return { link, loop, manager, shipped, deploy, stop };
}

function keyFile(dir: string, key: KeyObject): string {
  const pub = join(dir, 'trusted.pem');
  writeFileSync(pub, createPublicKey(key).export({ type: 'spki', format: 'pem' }));
  return pub;
}

test('a deployed policy survives a restart; an older release replayed is refused before and after it; rollback is remembered', async () => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const dir = tempDir();
  const pub = keyFile(dir, privateKey);
  const state = join(dir, 'state');
  const sign = (version: string, gain: number) => {
    const { manifest, chunks } = buildManifest({ modelDir: release(join(dir, version), version, { gain }) });
    return { signed: signManifest(manifest, privateKey), chunks };
  };
  const v2 = sign('v2', 3);
  const v3 = sign('v3', 4);
  assert.ok(v3.signed.sequence > v2.signed.sequence);

  let robot = await boot(state, pub);
  await robot.deploy(v2.signed, v2.chunks);
  await robot.deploy(v3.signed, v3.chunks);
  robot.manager.onManifest(Buffer.from(JSON.stringify(v2.signed))); // replayed
  assert.equal(robot.link.events.at(-1)?.code, 'refused_stale_version');
  assert.equal(robot.manager.activeVersion, 'v3');
  await robot.stop();

  // Restart: v3 runs from the state folder, v2 is kept for rollback, the replay is still refused.
  robot = await boot(state, pub);
  assert.equal(robot.manager.activeVersion, 'v3');
  assert.equal(robot.manager.previousVersion, 'v2');
  assert.equal(robot.shipped.closed, true, 'the shipped model is not needed');
  robot.manager.onManifest(Buffer.from(JSON.stringify(v2.signed)));
  assert.equal(robot.link.events.at(-1)?.code, 'refused_stale_version');
  assert.equal(robot.manager.refused, 1);
  assert.equal(robot.loop.swaps, 0);

  // Rollback, restart: v2 runs and the retained v3 manifest is not taken again.
  assert.equal(robot.manager.rollback('test'), true);
  assert.equal(robot.manager.activeVersion, 'v2');
  await robot.stop();
  robot = await boot(state, pub);
  assert.equal(robot.manager.activeVersion, 'v2');
  robot.manager.onManifest(Buffer.from(JSON.stringify(v3.signed)));
  assert.equal(robot.link.handlers.has(topics.policyPieces('push', v3.signed.model.sha256)), false, 'v3 is not downloaded again');
  assert.equal(robot.manager.activeVersion, 'v2');

  // A newer release ends the refusal.
  const v4 = sign('v4', 5);
  await robot.deploy(v4.signed, v4.chunks);
  assert.equal(robot.manager.activeVersion, 'v4');
  await robot.stop();
  robot = await boot(state, pub);
  assert.equal(robot.manager.activeVersion, 'v4', JSON.stringify(robot.link.events));
  await robot.stop();
});

test('a stored release that no longer verifies is refused at start-up with an event, and the shipped policy runs', async () => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const dir = tempDir();
  const pub = keyFile(dir, privateKey);
  const state = join(dir, 'state');
  const { manifest, chunks } = buildManifest({ modelDir: release(join(dir, 'v2'), 'v2', { gain: 3 }) });
  const v2 = signManifest(manifest, privateKey);
  let robot = await boot(state, pub);
  await robot.deploy(v2, chunks);
  await robot.stop();
  assert.equal(statSync(state).mode & 0o777, 0o700);
  const stored = join(state, 'models', v2.model.sha256);

  // The metadata (inside the signed manifest) altered on disk: the signature no longer verifies.
  const original = readFileSync(join(stored, 'manifest.json'), 'utf8');
  const tampered = JSON.parse(original);
  tampered.metadata.action.mean = [5, 5];
  writeFileSync(join(stored, 'manifest.json'), JSON.stringify(tampered));
  robot = await boot(state, pub);
  assert.equal(robot.manager.activeVersion, 'v1');
  assert.ok(robot.link.events.some((e) => e.code === 'restore_failed'));
  // The genuine retained manifest of the same release brings it back.
  await robot.deploy(v2, chunks);
  assert.equal(robot.manager.activeVersion, 'v2');
  await robot.stop();

  // The model replaced by a FIFO: refused without waiting on it.
  rmSync(join(stored, 'policy.onnx'));
  execFileSync('mkfifo', [join(stored, 'policy.onnx')]);
  robot = await boot(state, pub);
  assert.equal(robot.manager.activeVersion, 'v1');
  assert.ok(robot.link.events.some((e) => e.code === 'restore_failed'));
  await robot.stop();

  // A state folder that is a symbolic link is refused.
  symlinkSync(dir, join(dir, 'linked-state'));
  await assert.rejects(PolicyStore.open(join(dir, 'linked-state'), 'push', silentLogger), (e: StriatumError) => e.code === 'STRIATUM_ERR_IO');
});

test('a symlink and a FIFO planted in the old temporary download folder change nothing', async () => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const dir = tempDir();
  const pub = keyFile(dir, privateKey);
  const robotId = `unit-planted-${process.pid}`;
  const { manifest, chunks } = buildManifest({ modelDir: release(join(dir, 'v2'), 'v2', { gain: 3 }) });
  const v2 = signManifest(manifest, privateKey);
  const planted = join(tmpdir(), `striatum-policy-${robotId}`, v2.model.sha256.slice(0, 16));
  mkdirSync(planted, { recursive: true });
  const victim = join(dir, 'victim.txt');
  writeFileSync(victim, 'precious');
  try {
    symlinkSync(victim, join(planted, 'policy.onnx'));
    execFileSync('mkfifo', [join(planted, 'policy.json')]);
    const robot = await boot(join(dir, 'state'), pub, robotId);
    await robot.deploy(v2, chunks);
    assert.equal(robot.manager.activeVersion, 'v2');
    assert.equal(readFileSync(victim, 'utf8'), 'precious');
    await robot.stop();
  } finally {
    rmSync(join(tmpdir(), `striatum-policy-${robotId}`), { recursive: true, force: true });
  }
});

/** v1 runs `before` episodes (all successes), then v2 is deployed and swapped in. */
async function deployV2(before: number) {
  const { privateKey } = generateKeyPairSync('ed25519');
  const ctx = setup(privateKey, { episodes: 4, margin: 0.2 });
  for (let i = 0; i < before; i++) ctx.manager.onEpisodeEnd(true);
  const { manifest, chunks } = buildManifest({ modelDir: release(join(ctx.dir, 'r2'), 'v2') });
  const signed = signManifest(manifest, privateKey);
  ctx.manager.onManifest(Buffer.from(JSON.stringify(signed)));
  ctx.link.deliverPieces(signed, chunks);
  await waitFor('swap', () => ctx.loop.swaps === 1);
  ctx.manager.onEpisodeEnd(true); // the episode the swap happened in is not counted
  return { ...ctx, signed };
}

test('automatic rollback needs the previous version judged over the full window too', async () => {
  // v1 ran 2 episodes (both successes): too few to say v2's 1 of 4 is worse.
  const { loop, manager } = await deployV2(2);
  for (let i = 0; i < 4; i++) manager.onEpisodeEnd(i === 0);
  assert.equal(loop.swaps, 1, 'no rollback against a baseline of 2 episodes');
  assert.equal(manager.activeVersion, 'v2');
  await manager.close();
});

test('after an automatic rollback the robot never goes back to the version it left, whatever the verdicts say', async () => {
  const { loop, manager, link, signed } = await deployV2(4);
  for (let i = 0; i < 4; i++) manager.onEpisodeEnd(i === 0); // v2: 1 of 4 → back to v1
  assert.equal(loop.swaps, 2);
  assert.equal(manager.activeVersion, 'v1');
  manager.onEpisodeEnd(true); // the swap episode
  for (let i = 0; i < 12; i++) manager.onEpisodeEnd(false); // v1 now fails every time: still no swap back to v2
  assert.equal(loop.swaps, 2);
  assert.equal(manager.activeVersion, 'v1');
  manager.onManifest(Buffer.from(JSON.stringify(signed)));
  assert.equal(link.handlers.has(topics.policyPieces(signed.task, signed.model.sha256)), false, 'v2 is refused until a newer release runs');
  await manager.close();
});

test('the rollback window counts the episode verdict (the success model\'s in learning mode), never the ground truth', () => {
  const seen: boolean[] = [];
  const tracker = new RollbackTracker();
  tracker.attach({ onEpisodeEnd: (success: boolean) => { seen.push(success); } });
  const summary = (outcome: EpisodeSummary['outcome'], truth: boolean | null): EpisodeSummary => ({
    episode: 0, seed: 0, instruction: 'push', policy_version: 'v1', steps: 10, duration_s: 1, outcome, success: outcome === 'success',
    final_progress: null, end_reason: null, ground_truth: truth === null ? null : { success: truth, final_progress: truth ? 1 : 0.2 },
  });
  tracker.onEpisodeEnd(summary('timeout', true)); // the simulator saw success, the success model did not
  tracker.onEpisodeEnd(summary('success', false)); // the success model said success, the simulator did not
  tracker.onEpisodeEnd(summary('aborted', true)); // says nothing about the policy
  tracker.onEpisodeEnd(summary('success', null));
  assert.deepEqual(seen, [false, true, true]);
});
