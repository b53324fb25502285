// The policy registry: check a trained model before release (loads in onnxruntime, fits the robot, no NaN, sane
// action statistics on held-out observations), then sign its manifest and publish it with the model in pieces.
import { createHash, createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { MqttClient } from 'mqtt';
import {
  DEFAULT_PIECE_BYTES, MANIFEST_FORMAT, signManifest, type PolicyManifest, type PolicyPiece,
} from '../contracts/policy-manifest.js';
import { topics } from '../contracts/topics.js';
import { StriatumError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { readPolicyMetadata, type PolicyMetadata } from '../policy/metadata.js';
import { OnnxPolicy, type PolicyExpectations } from '../policy/onnx-policy.js';

/** Release checks on top of what the robot checks at load: bounds on the denormalized action, per joint. */
export interface ReleaseSpec extends PolicyExpectations {
  /** Largest |action| accepted on any held-out observation (default: unbounded). */
  readonly actionAbsMax?: number;
}

export interface ReleaseReport {
  readonly ok: boolean;
  readonly problems: readonly string[];
  readonly metadata: PolicyMetadata | null;
  readonly provider: string | null;
  /** Per joint, over the held-out observations. */
  readonly actionMean: number[];
  readonly actionStd: number[];
  readonly actionMin: number[];
  readonly actionMax: number[];
  readonly observations: number;
}

/** What a policy's own metadata says the robot looks like: for releases without a robot config at hand. */
export function expectationsFromMetadata(meta: PolicyMetadata): PolicyExpectations {
  return {
    observationFields: meta.observation.fields, jointNames: meta.action.joints, mode: meta.action.mode,
    chunk: meta.action.chunk, execution: 'ensemble', ensembleDecay: 0.01,
    scale: new Float64Array(meta.action.joints.length).fill(1), normalization: 'model',
  };
}

/** Deterministic observations around the metadata's mean (or zero) when no held-out set is given. */
function defaultObservations(meta: PolicyMetadata, count: number): Float64Array[] {
  const dim = meta.observation.fields.reduce((s, f) => s + f.size, 0);
  const out: Float64Array[] = [];
  let x = 0x9e3779b9;
  for (let n = 0; n < count; n++) {
    const o = new Float64Array(dim);
    for (let i = 0; i < dim; i++) {
      x = (x * 1664525 + 1013904223) >>> 0;
      const u = x / 2 ** 32 - 0.5;
      o[i] = (meta.observation.mean?.[i] ?? 0) + u * (meta.observation.std?.[i] ?? 1);
    }
    out.push(o);
  }
  return out;
}

/** Never throws for a bad model: every problem is collected in the report. */
export async function validateForRelease(
  modelPath: string, metadataPath: string, robotSpec: ReleaseSpec, heldOutObservations?: readonly Float64Array[], logger: Logger = silentLogger,
): Promise<ReleaseReport> {
  const problems: string[] = [];
  const joints = robotSpec.jointNames.length;
  const empty = { actionMean: [], actionStd: [], actionMin: [], actionMax: [], observations: 0 };
  let meta: PolicyMetadata;
  let policy: OnnxPolicy;
  try {
    meta = readPolicyMetadata(metadataPath);
    policy = await OnnxPolicy.load({ modelPath, metadataPath, providers: ['cpu'], threads: 1, warmupRuns: 1, logger }, robotSpec);
  } catch (err) {
    const e = err as StriatumError;
    return { ok: false, problems: [`${e.code ?? 'error'}: ${e.message}`, ...(e.details ?? [])], metadata: null, provider: null, ...empty };
  }
  const observations = heldOutObservations ?? defaultObservations(meta, 32);
  const sum = new Float64Array(joints);
  const sq = new Float64Array(joints);
  const min = new Float64Array(joints).fill(Infinity);
  const max = new Float64Array(joints).fill(-Infinity);
  const out = new Float64Array(joints);
  try {
    for (let n = 0; n < observations.length; n++) {
      await policy.act(observations[n], out);
      policy.reset();
      for (let j = 0; j < joints; j++) {
        const a = out[j];
        if (!Number.isFinite(a)) { problems.push(`observation ${n}: action for joint ${robotSpec.jointNames[j]} is ${a}`); continue; }
        sum[j] += a; sq[j] += a * a;
        if (a < min[j]) min[j] = a;
        if (a > max[j]) max[j] = a;
      }
      if (problems.length > 10) break;
    }
  } finally {
    await policy.close();
  }
  const count = Math.max(1, observations.length);
  const mean = Array.from(sum, (s) => s / count);
  const std = Array.from(sq, (s, j) => Math.sqrt(Math.max(0, s / count - mean[j] * mean[j])));
  if (robotSpec.actionAbsMax !== undefined) {
    for (let j = 0; j < joints; j++) {
      const worst = Math.max(Math.abs(min[j]), Math.abs(max[j]));
      if (worst > robotSpec.actionAbsMax) problems.push(`joint ${robotSpec.jointNames[j]}: |action| reaches ${worst.toPrecision(4)}, limit is ${robotSpec.actionAbsMax}`);
    }
  }
  return {
    ok: problems.length === 0, problems, metadata: meta, provider: policy.provider,
    actionMean: mean, actionStd: std, actionMin: Array.from(min), actionMax: Array.from(max), observations: observations.length,
  };
}

/** Split a model into pieces with their hashes. */
export function splitIntoPieces(model: Buffer, pieceBytes = DEFAULT_PIECE_BYTES): { pieces: PolicyPiece[]; chunks: Buffer[] } {
  const pieces: PolicyPiece[] = [];
  const chunks: Buffer[] = [];
  for (let off = 0, i = 0; off < model.length; off += pieceBytes, i++) {
    const chunk = model.subarray(off, Math.min(model.length, off + pieceBytes));
    chunks.push(chunk);
    pieces.push({ index: i, size: chunk.length, sha256: createHash('sha256').update(chunk).digest('hex') });
  }
  return { pieces, chunks };
}

/** The one policy metadata JSON in a model folder, and the model it names. */
export function findPolicyInDir(modelDir: string): { metadataPath: string; modelPath: string; metadata: PolicyMetadata } {
  const candidates: string[] = [];
  for (const name of readdirSync(modelDir)) {
    if (!name.endsWith('.json')) continue;
    try {
      const raw = JSON.parse(readFileSync(join(modelDir, name), 'utf8')) as { format?: unknown };
      if (raw.format === 'striatum.policy/v1') candidates.push(name);
    } catch { /* not ours */ }
  }
  if (candidates.length !== 1) {
    throw new StriatumError('STRIATUM_ERR_POLICY_METADATA', `${modelDir}: expected exactly one striatum.policy/v1 metadata JSON, found ${candidates.length}`, candidates);
  }
  const metadataPath = join(modelDir, candidates[0]);
  const metadata = readPolicyMetadata(metadataPath);
  return { metadataPath, modelPath: resolve(modelDir, metadata.model), metadata };
}

export function loadPrivateKey(path: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(readFileSync(path));
  } catch (err) {
    throw new StriatumError('STRIATUM_ERR_CONFIG', `cannot read private key ${path}: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new StriatumError('STRIATUM_ERR_CONFIG', `${path} is a ${key.asymmetricKeyType} key, ed25519 is required`);
  return key;
}

/** Write an ed25519 keypair as PEM: private.pem (mode 0600) and public.pem. */
export function generateKeyFiles(outDir: string): { privatePath: string; publicPath: string } {
  mkdirSync(outDir, { recursive: true });
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const privatePath = join(outDir, 'private.pem');
  const publicPath = join(outDir, 'public.pem');
  writeFileSync(privatePath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  chmodSync(privatePath, 0o600); // the umask cannot widen it, but an existing file's mode would be kept
  writeFileSync(publicPath, publicKey.export({ type: 'spki', format: 'pem' }), { flag: 'wx' });
  return { privatePath, publicPath };
}

export interface ReleaseOptions {
  readonly modelDir: string;
  readonly key: KeyObject;
  readonly mqttClient: MqttClient;
  /** Default: the metadata's task and version. */
  readonly task?: string;
  readonly version?: string;
  readonly parentVersion?: string | null;
  /** Release number, increasing per task (default: the release time in ms, kept increasing within this process). */
  readonly sequence?: number;
  readonly training?: Record<string, unknown>;
  readonly pieceBytes?: number;
  readonly created?: string;
  readonly logger?: Logger;
}

let lastSequence = 0;

/** The release time in ms, one more than the last one when two releases fall in the same millisecond. */
function nextSequence(): number {
  lastSequence = Math.max(Date.now(), lastSequence + 1);
  return lastSequence;
}

/** Build the unsigned manifest for a model folder (exposed so tests can tamper with it). */
export function buildManifest(o: Omit<ReleaseOptions, 'key' | 'mqttClient'>): { manifest: Omit<PolicyManifest, 'signature'>; chunks: Buffer[] } {
  const { modelPath, metadata } = findPolicyInDir(o.modelDir);
  const model = readFileSync(modelPath);
  const sha256 = createHash('sha256').update(model).digest('hex');
  const { pieces, chunks } = splitIntoPieces(model, o.pieceBytes);
  const version = o.version ?? metadata.version;
  const task = o.task ?? metadata.task;
  const embedded: PolicyMetadata = { ...metadata, version, task, sha256 };
  const manifest = {
    format: MANIFEST_FORMAT, task, version, parent_version: o.parentVersion ?? metadata.parent_version ?? null,
    sequence: o.sequence ?? nextSequence(),
    created: o.created ?? new Date().toISOString(), model: { sha256, size: model.length }, metadata: embedded, pieces,
    training: o.training ?? metadata.training ?? {}, key_id: '0'.repeat(16),
  } satisfies Omit<PolicyManifest, 'signature'>;
  return { manifest, chunks };
}

/** Publish pieces, then the manifest last (all retained, QoS 1), so a robot that sees the manifest finds every piece. */
export async function publishRelease(client: MqttClient, manifest: PolicyManifest, chunks: readonly Buffer[]): Promise<void> {
  for (let i = 0; i < chunks.length; i++) {
    await client.publishAsync(topics.policyPiece(manifest.task, manifest.model.sha256, i), chunks[i], { qos: 1, retain: true });
  }
  await client.publishAsync(topics.policyManifest(manifest.task), JSON.stringify(manifest), { qos: 1, retain: true });
}

/** Sign the manifest of the model in modelDir and publish it with its pieces. */
export async function releasePolicy(o: ReleaseOptions): Promise<PolicyManifest> {
  const { manifest, chunks } = buildManifest(o);
  const signed = signManifest(manifest, o.key);
  await publishRelease(o.mqttClient, signed, chunks);
  o.logger?.info('policy released', { task: signed.task, version: signed.version, sha256: signed.model.sha256, pieces: chunks.length, key_id: signed.key_id });
  return signed;
}
