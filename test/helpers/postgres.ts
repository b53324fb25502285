// Starts a real PostgreSQL (Debian's server binaries) in a temporary folder on a free loopback port, with its
// unix socket in the same folder. initdb and postgres refuse to run as root, and CI runs as root: then the
// cluster belongs to `nobody` and both run through runuser. The handle stops, crashes (immediate shutdown) and restarts it.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { freePort, tempDir } from './fixtures.js';
import { requirePostgres } from './required-tools.js';

export interface PostgresHandle {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** SIGINT (fast shutdown) and wait. */
  stop(): Promise<void>;
  /** Immediate shutdown (SIGQUIT): no checkpoint, crash recovery on the next start. */
  crash(): Promise<void>;
  start(): Promise<void>;
  /** Stop (or kill) and delete the folder. */
  destroy(): Promise<void>;
}

const asRoot = process.getuid?.() === 0;
const NOBODY = 65534;

function run(bin: string, args: string[]): string[] {
  return asRoot ? ['runuser', '-u', 'nobody', '--', bin, ...args] : [bin, ...args];
}

/** settings: more `-c name=value` server settings (the bench sizes shared_buffers and wal_buffers for ingest). */
export async function startPostgres(options: { fsync?: boolean; settings?: Record<string, string> } = {}): Promise<PostgresHandle> {
  const bin = requirePostgres();
  const root = tempDir('striatum-pg-');
  const data = join(root, 'data');
  const sock = join(root, 'sock');
  mkdirSync(sock);
  chmodSync(root, 0o755);
  if (asRoot) { chownSync(root, NOBODY, NOBODY); chownSync(sock, NOBODY, NOBODY); }
  const [cmd, ...args] = run(join(bin, 'initdb'), ['-D', data, '-U', 'striatum', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  execFileSync(cmd, args, { stdio: 'pipe' });
  const port = await freePort();
  let proc: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  let stderr = '';

  const start = async (): Promise<void> => {
    if (proc !== null) return; // already running
    const [c, ...a] = run(join(bin, 'postgres'), [
      '-D', data, '-p', String(port), '-k', sock, '-h', '127.0.0.1',
      '-c', `fsync=${options.fsync === false ? 'off' : 'on'}`, '-c', 'max_connections=200', '-c', 'shared_buffers=64MB',
      ...Object.entries(options.settings ?? {}).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    ]);
    const p = spawn(c, a, { stdio: ['ignore', 'ignore', 'pipe'] });
    proc = p;
    let gone = false;
    p.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-8000); });
    exited = new Promise((resolve) => p.once('exit', () => { gone = true; resolve(); }));
    // Listening is not ready: until recovery ends, connections are refused with "starting up".
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (gone) { proc = null; throw new Error(`postgres exited at start-up: ${stderr}`); }
      if (await ready(port)) return;
      if (Date.now() > deadline) throw new Error(`postgres did not become ready: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    const p = proc;
    if (p === null || p.exitCode !== null || p.signalCode !== null) return;
    proc = null;
    // With runuser in between, the server is runuser's child: signal the postmaster by its own pid.
    const pid = asRoot ? serverPid(data) : (p.pid ?? null);
    if (pid !== null) { try { process.kill(pid, sig); } catch { /* already gone */ } }
    await exited;
  };
  await start();
  return {
    url: `postgres://striatum@127.0.0.1:${port}/postgres`, port, dir: root, start,
    stop: () => signal('SIGINT'),
    crash: () => signal('SIGQUIT'),
    async destroy() { await signal('SIGQUIT'); rmSync(root, { recursive: true, force: true }); },
  };
}

/** The postmaster's pid from postmaster.pid (first line), or null. */
function serverPid(data: string): number | null {
  try {
    const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch { return null; }
}

async function ready(port: number): Promise<boolean> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'striatum', database: 'postgres', connectionTimeoutMillis: 2000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}
