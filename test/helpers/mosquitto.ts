// Starts a real Mosquitto on a free loopback port with password and ACL files (the shipped examples). A missing
// Mosquitto fails the test that needs it (MissingToolError names the package), in CI and at a desk alike.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { REPO, freePort, tempDir, waitFor } from './fixtures.js';
import { requireMosquitto } from './required-tools.js';

const CANDIDATES = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'];
export const MOSQUITTO = CANDIDATES.find((p) => existsSync(p)) ?? null;


export interface MosquittoHandle { port: number; url: string; stop(): Promise<void>; proc: ChildProcess }

export async function startMosquitto(accounts: Record<string, string>): Promise<MosquittoHandle> {
  const mosquitto = requireMosquitto();
  const dir = tempDir('striatum-mosq-');
  const passwd = join(dir, 'passwd');
  writeFileSync(passwd, '');
  for (const [user, pass] of Object.entries(accounts)) execFileSync('mosquitto_passwd', ['-b', passwd, user, pass]);
  copyFileSync(join(REPO, 'examples/mosquitto/acl.conf'), join(dir, 'acl.conf'));
  const port = await freePort();
  writeFileSync(join(dir, 'mosquitto.conf'), [
    `listener ${port} 127.0.0.1`, 'allow_anonymous false', `password_file ${passwd}`, `acl_file ${join(dir, 'acl.conf')}`, 'persistence false', '',
  ].join('\n'));
  // Started as root, mosquitto drops to its own user: it must be able to read these files.
  chmodSync(dir, 0o755);
  for (const f of readdirSync(dir)) chmodSync(join(dir, f), 0o644);
  const proc = spawn(mosquitto, ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let exited = false;
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  proc.on('exit', () => { exited = true; });
  await waitFor('mosquitto to listen', () => {
    if (exited) throw new Error(`mosquitto exited at start-up: ${stderr}`);
    return portOpenSync.get(port);
  }, 10_000).catch(async (e) => { proc.kill(); throw e; });
  return {
    port, url: `mqtt://127.0.0.1:${port}`, proc,
    stop: () => new Promise<void>((resolve) => { if (exited) return resolve(); proc.once('exit', () => resolve()); proc.kill('SIGTERM'); }),
  };
}

// Polled port probe: a background connect attempt whose last result is read synchronously by waitFor.
const portOpenSync = {
  state: new Map<number, boolean>(),
  get(port: number): boolean {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => { this.state.set(port, true); s.destroy(); });
    s.once('error', () => s.destroy());
    return this.state.get(port) === true;
  },
};
