// The signed policy manifest (striatum/v1/policy/{task}/manifest): what a robot needs to verify a policy before
// it runs one. Declared once with zod; the canonical encoding and the ed25519 signature live beside it.
//
// Canonical form (the bytes that are signed): the manifest without its `signature` field, encoded as JSON with
// the keys of every object sorted by UTF-16 code unit (JavaScript's default sort), no whitespace, arrays kept in
// order, strings and numbers exactly as JSON.stringify writes them, UTF-8. `undefined` members are dropped.
// signature = base64(ed25519(privateKey, canonicalBytes)); key_id = first 16 hex of sha256(SPKI DER public key).
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { PolicyMetadataSchema } from './policy-metadata.js';
import { StriatumError } from '../errors.js';

export const MANIFEST_FORMAT = 'striatum.manifest/v1';
/** Pieces are 64 KiB: well under any broker's packet limit, and a bad piece costs one re-publish, not the model. */
export const DEFAULT_PIECE_BYTES = 64 * 1024;
/** Largest manifest accepted before parsing (it embeds the metadata and one hash per piece). */
export const MAX_MANIFEST_BYTES = 512 * 1024;

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex sha256');

export const PolicyPieceSchema = z.strictObject({
  index: z.int().min(0),
  size: z.int().min(1),
  sha256: sha256Hex,
});
export type PolicyPiece = z.infer<typeof PolicyPieceSchema>;

export const PolicyManifestSchema = z.strictObject({
  format: z.literal(MANIFEST_FORMAT),
  task: z.string().min(1).regex(/^[^/+#]+$/, 'no MQTT topic separators or wildcards'),
  version: z.string().min(1).max(128),
  parent_version: z.string().nullable(),
  sequence: z.int().min(1)
    .describe('release number, increasing per task: a robot takes only a release newer than the one it runs (so an old manifest replayed is refused)'),
  created: z.string().describe('ISO-8601 time of the release'),
  model: z.strictObject({ sha256: sha256Hex, size: z.int().min(1) }),
  metadata: PolicyMetadataSchema.describe('the striatum.policy/v1 JSON, embedded'),
  pieces: z.array(PolicyPieceSchema).min(1),
  training: z.record(z.string(), z.unknown()).describe('training and validation metrics, for the record'),
  key_id: z.string().regex(/^[0-9a-f]{16}$/),
  /** Optional in the schema so an unsigned manifest is refused as unsigned, not as malformed. */
  signature: z.string().optional().describe('base64 ed25519 signature over the canonical form of every other field'),
});
export type PolicyManifest = z.infer<typeof PolicyManifestSchema>;
export type UnsignedManifest = Omit<PolicyManifest, 'signature'>;

/** Canonical JSON: sorted keys, no whitespace. Throws on values JSON cannot represent exactly. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new StriatumError('STRIATUM_ERR_POLICY_METADATA', `canonical JSON: non-finite number ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  if (typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
  }
  throw new StriatumError('STRIATUM_ERR_POLICY_METADATA', `canonical JSON: cannot encode a ${typeof value}`);
}

/** The exact bytes the signature covers. */
export function manifestSigningBytes(manifest: UnsignedManifest | PolicyManifest): Buffer {
  const { signature: _omit, ...rest } = manifest as PolicyManifest;
  return Buffer.from(canonicalJson(rest), 'utf8');
}

export function keyIdOf(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex').slice(0, 16);
}

export function signManifest(manifest: UnsignedManifest, privateKey: KeyObject): PolicyManifest {
  const signed = { ...manifest, key_id: keyIdOf(createPublicKey(privateKey)) };
  const signature = sign(null, manifestSigningBytes(signed), privateKey).toString('base64');
  return { ...signed, signature };
}

export type ManifestVerdict =
  | { ok: true }
  | { ok: false; code: 'unsigned' | 'untrusted_key' | 'bad_signature'; message: string };

/** Verify against the trusted public keys, chosen by key id. Never throws. */
export function verifyManifest(manifest: PolicyManifest, trusted: ReadonlyMap<string, KeyObject>): ManifestVerdict {
  if (manifest.signature === undefined || manifest.signature.length === 0) {
    return { ok: false, code: 'unsigned', message: `manifest ${manifest.task} ${manifest.version} carries no signature` };
  }
  const key = trusted.get(manifest.key_id);
  if (key === undefined) {
    return { ok: false, code: 'untrusted_key', message: `manifest ${manifest.task} ${manifest.version} is signed by key ${manifest.key_id}, which is not among the ${trusted.size} trusted key(s)` };
  }
  let good = false;
  try {
    good = verify(null, manifestSigningBytes(manifest), key, Buffer.from(manifest.signature, 'base64'));
  } catch {
    good = false;
  }
  return good ? { ok: true } : { ok: false, code: 'bad_signature', message: `manifest ${manifest.task} ${manifest.version}: signature does not verify with key ${manifest.key_id}` };
}

export type ManifestRefusal = { code: 'unsigned' | 'untrusted_key' | 'bad_signature' | 'wrong_task' | 'manifest_invalid'; message: string };

/** Everything a robot checks on a manifest before it believes it: signature, task, pieces. Null when it passes. */
export function checkManifestForRobot(m: PolicyManifest, trusted: ReadonlyMap<string, KeyObject>, task: string): ManifestRefusal | null {
  // Signature first: nothing else in an unverified manifest is believed, not even its version.
  const verdict = verifyManifest(m, trusted);
  if (!verdict.ok) return verdict;
  if (m.task !== task) return { code: 'wrong_task', message: `manifest is for task ${m.task}, this robot runs ${task}` };
  const problems = checkManifestPieces(m);
  if (m.metadata.sha256 !== undefined && m.metadata.sha256 !== m.model.sha256) problems.push(`metadata.sha256 ${m.metadata.sha256} differs from model.sha256 ${m.model.sha256}`);
  if (problems.length > 0) return { code: 'manifest_invalid', message: `manifest ${m.version}: ${problems.join('; ')}` };
  return null;
}

/** Cross-field checks the schema cannot express: pieces in order, sizes adding up to the model. */
export function checkManifestPieces(m: PolicyManifest): string[] {
  const problems: string[] = [];
  let total = 0;
  m.pieces.forEach((p, i) => {
    if (p.index !== i) problems.push(`pieces[${i}]: index ${p.index}, expected ${i}`);
    total += p.size;
  });
  if (total !== m.model.size) problems.push(`pieces add up to ${total} bytes, model.size is ${m.model.size}`);
  if (m.metadata.task !== m.task) problems.push(`metadata.task "${m.metadata.task}" differs from manifest task "${m.task}"`);
  if (m.metadata.version !== m.version) problems.push(`metadata.version "${m.metadata.version}" differs from manifest version "${m.version}"`);
  return problems;
}
