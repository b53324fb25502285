// The robot's record of over-the-air policies (policy.state_dir): which signed release runs, which ran before,
// the highest release sequence taken and the versions rolled back from, plus each kept release's signed manifest
// and model. The folder is private (0700, owned by this user); files are opened without following links and
// only when they are regular files, and every read and write is asynchronous so the control loop never waits.
// Nothing read here is trusted: a stored release is verified again (signature, hashes, fit) before it runs.
import { constants } from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, open, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { MAX_MANIFEST_BYTES } from '../contracts/policy-manifest.js';
import { StriatumError } from '../errors.js';
import type { Logger } from '../log.js';

/** Largest model file read back (a policy this size would not fit the control period anyway). */
const MAX_MODEL_BYTES = 1024 * 1024 * 1024;

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);

export const StoredReleaseSchema = z.strictObject({ version: z.string().min(1), sha256: Sha256, sequence: z.int().min(1) });
export type StoredRelease = z.infer<typeof StoredReleaseSchema>;

export const PolicyStateSchema = z.strictObject({
  format: z.literal('striatum.policy-state/v1'),
  task: z.string().min(1),
  /** null: the shipped model (policy.model) runs. */
  current: StoredReleaseSchema.nullable(),
  /** 'shipped': the shipped model ran before; null: nothing to roll back to. */
  previous: z.union([StoredReleaseSchema, z.literal('shipped')]).nullable(),
  /** The newest release this robot has run; an older one (or another model under the same number) is refused. */
  highest: z.strictObject({ sequence: z.int().min(1), sha256: Sha256 }).nullable(),
  /** Versions rolled back from: refused until a newer release runs. */
  rolled_back: z.array(z.string()),
});
export type PolicyState = z.infer<typeof PolicyStateSchema>;

const STATE_FILE = 'state.json';
const MODELS = 'models';

export function emptyPolicyState(task: string): PolicyState {
  return { format: 'striatum.policy-state/v1', task, current: null, previous: null, highest: null, rolled_back: [] };
}

/** Open a file for reading only if it is a regular file reached without a symbolic link; never blocks on a FIFO. */
export async function readRegularFile(path: string, maxBytes: number): Promise<Buffer> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new StriatumError('STRIATUM_ERR_IO', `${path} is not a regular file`);
    if (st.size > maxBytes) throw new StriatumError('STRIATUM_ERR_IO', `${path} has ${st.size} bytes, more than the ${maxBytes} accepted`);
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/** Create dir (0700) if needed; refuse a link, something else than a folder, or a folder of another user. */
async function privateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await lstat(dir);
  if (st.isSymbolicLink() || !st.isDirectory()) throw new StriatumError('STRIATUM_ERR_IO', `policy.state_dir: ${dir} is not a folder (a symbolic link or a file is refused)`);
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) {
    throw new StriatumError('STRIATUM_ERR_IO', `policy.state_dir: ${dir} belongs to uid ${st.uid}, not to this user`);
  }
  if ((st.mode & 0o077) !== 0) await chmod(dir, 0o700);
}

function referencedReleases(state: PolicyState): Set<string> {
  const keep = new Set<string>();
  if (state.current !== null) keep.add(state.current.sha256);
  if (state.previous !== null && state.previous !== 'shipped') keep.add(state.previous.sha256);
  return keep;
}

export class PolicyStore {
  private writing: Promise<void> = Promise.resolve();
  /** Releases saved but not yet named by a written state (about to be swapped in): not pruned meanwhile. */
  private readonly saved = new Set<string>();

  private constructor(readonly dir: string, public state: PolicyState, private readonly logger: Logger) {}

  /** Open (create) the state folder and read its state; an unreadable or foreign state starts afresh, logged. */
  static async open(dir: string, task: string, logger: Logger): Promise<PolicyStore> {
    await privateDir(dir);
    await privateDir(join(dir, MODELS));
    for (const name of await readdir(dir)) {
      if (name.startsWith('incoming-')) await rm(join(dir, name), { recursive: true, force: true }); // an interrupted download
    }
    let state = emptyPolicyState(task);
    try {
      const parsed = PolicyStateSchema.safeParse(JSON.parse((await readRegularFile(join(dir, STATE_FILE), 1024 * 1024)).toString('utf8')));
      if (!parsed.success) logger.warn('policy state file is invalid; starting from the shipped policy', { dir });
      else if (parsed.data.task !== task) logger.warn('policy state belongs to another task; starting from the shipped policy', { dir, state_task: parsed.data.task, task });
      else state = parsed.data;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn('policy state file cannot be read; starting from the shipped policy', { dir, error: String((err as Error).message) });
    }
    // Releases the state no longer names (a swap that never happened before a restart).
    const keep = referencedReleases(state);
    for (const name of await readdir(join(dir, MODELS))) {
      if (!keep.has(name)) await rm(join(dir, MODELS, name), { recursive: true, force: true });
    }
    return new PolicyStore(dir, state, logger);
  }

  /**
   * Keep a verified release: written into a fresh private folder, then moved into place whole. Queued with the state
   * writes, so a state write's clean-up of unreferenced releases never runs in the middle of it (it could remove the
   * release just moved into place).
   */
  saveRelease(manifestBytes: Buffer, model: Buffer, sha256: string): Promise<void> {
    const run = async (): Promise<void> => {
      const incoming = await mkdtemp(join(this.dir, 'incoming-'));
      try {
        await writeFile(join(incoming, 'manifest.json'), manifestBytes, { flag: 'wx', mode: 0o600 });
        await writeFile(join(incoming, 'policy.onnx'), model, { flag: 'wx', mode: 0o600 });
        const target = join(this.dir, MODELS, sha256);
        await rm(target, { recursive: true, force: true });
        await rename(incoming, target);
        this.saved.add(sha256);
      } catch (err) {
        await rm(incoming, { recursive: true, force: true }).catch(() => undefined);
        throw err;
      }
    };
    this.writing = this.writing.then(run, run);
    return this.writing;
  }

  /** The stored signed manifest and model of a release, as bytes (verified by the caller). */
  async readRelease(sha256: string, modelBytes: number): Promise<{ manifest: Buffer; model: Buffer }> {
    const folder = join(this.dir, MODELS, sha256);
    const manifest = await readRegularFile(join(folder, 'manifest.json'), MAX_MANIFEST_BYTES);
    const model = await readRegularFile(join(folder, 'policy.onnx'), Math.min(modelBytes, MAX_MODEL_BYTES));
    return { manifest, model };
  }

  /** Replace the state (one write at a time, atomically by rename) and drop releases no longer referenced. */
  save(next: PolicyState): Promise<void> {
    this.state = next;
    const run = async (): Promise<void> => {
      const tmp = join(this.dir, `${STATE_FILE}.tmp`);
      await rm(tmp, { force: true });
      await writeFile(tmp, `${JSON.stringify(next, null, 2)}\n`, { flag: 'wx', mode: 0o600 });
      await rename(tmp, join(this.dir, STATE_FILE));
      const keep = referencedReleases(next);
      for (const sha of keep) this.saved.delete(sha);
      for (const name of await readdir(join(this.dir, MODELS))) {
        if (!keep.has(name) && !this.saved.has(name)) await rm(join(this.dir, MODELS, name), { recursive: true, force: true });
      }
    };
    this.writing = this.writing.then(run, run);
    return this.writing;
  }

  /** Wait for pending writes (shutdown, tests). */
  async flush(): Promise<void> {
    await this.writing.catch((err: unknown) => this.logger.warn('policy state write failed', { error: String(err) }));
  }
}
