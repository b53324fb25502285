// Starts a real Mosquitto on a free loopback port with password and ACL files (the shipped examples), optionally
// with the shipped mosquitto.conf itself. A missing Mosquitto fails the test that needs it (MissingToolError
// names the package), in CI and at a desk alike.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, copyFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { REPO, freePort, tempDir, waitFor } from './fixtures.js';
import { requireMosquitto } from './required-tools.js';

const CANDIDATES = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'];
export const MOSQUITTO = CANDIDATES.find((p) => existsSync(p)) ?? null;


export interface MosquittoHandle {
  port: number;
  url: string;
  stop(): Promise<void>;
  proc: ChildProcess;
  /** kill -9, and wait for the process to be gone. */
  kill9(): Promise<void>;
  /** Start again on the same port with the same files (after stop or kill9). */
  restart(): Promise<void>;
}

export interface MosquittoOptions {
  /**
   * Start from the shipped examples/mosquitto/mosquitto.conf (every security line as shipped, e.g.
   * use_username_as_clientid), with only listener ports and file paths replaced. Default: a minimal conf with
   * the shipped password and ACL rules but Mosquitto's own client-id handling.
   */
  readonly shippedConf?: boolean;
  /** Lines appended to the shipped acl.conf, e.g. a robot's rollout-account block. */
  readonly aclExtra?: string;
  /** More mosquitto.conf lines (the bench's --mosquitto-conf, e.g. `set_tcp_nodelay true`). */
  readonly confExtra?: readonly string[];
}

export async function startMosquitto(accounts: Record<string, string>, options: MosquittoOptions = {}): Promise<MosquittoHandle> {
  const mosquitto = requireMosquitto();
  const dir = tempDir('striatum-mosq-');
  const passwd = join(dir, 'passwd');
  writeFileSync(passwd, '');
  for (const [user, pass] of Object.entries(accounts)) execFileSync('mosquitto_passwd', ['-b', passwd, user, pass]);
  const acl = join(dir, 'acl.conf');
  copyFileSync(join(REPO, 'examples/mosquitto/acl.conf'), acl);
  if (options.aclExtra !== undefined) appendFileSync(acl, `\n${options.aclExtra}\n`);
  const port = await freePort();
  const conf = options.shippedConf === true
    ? await fromShippedConf({ port, passwd, acl })
    : [`listener ${port} 127.0.0.1`, 'allow_anonymous false', `password_file ${passwd}`, `acl_file ${acl}`, 'persistence false', ''].join('\n');
  writeFileSync(join(dir, 'mosquitto.conf'), options.confExtra === undefined ? conf : `${conf}\n${options.confExtra.join('\n')}\n`);
  // Started as root, mosquitto drops to its own user: it must be able to read these files.
  chmodSync(dir, 0o755);
  for (const f of readdirSync(dir)) chmodSync(join(dir, f), 0o644);
  let proc!: ChildProcess;
  let exited = true;
  const launch = async (): Promise<void> => {
    const p = spawn(mosquitto, ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc = p;
    exited = false;
    let stderr = '';
    p.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('exit', () => { if (proc === p) exited = true; });
    portOpenSync.state.delete(port);
    await waitFor('mosquitto to listen', () => {
      if (exited) throw new Error(`mosquitto exited at start-up: ${stderr}`);
      return portOpenSync.get(port);
    }, 10_000).catch(async (e) => { p.kill(); throw e; });
  };
  const signal = (sig: NodeJS.Signals) => new Promise<void>((resolve) => {
    if (exited) return resolve();
    proc.once('exit', () => resolve());
    proc.kill(sig);
  });
  await launch();
  return {
    port, url: `mqtt://127.0.0.1:${port}`,
    get proc() { return proc; },
    stop: () => signal('SIGTERM'),
    kill9: () => signal('SIGKILL'),
    restart: () => (exited ? launch() : Promise.resolve()),
  };
}

/** The shipped conf with its first listener on `port`, any further listener on another free port, our files. */
async function fromShippedConf(o: { port: number; passwd: string; acl: string }): Promise<string> {
  const lines = readFileSync(join(REPO, 'examples/mosquitto/mosquitto.conf'), 'utf8').split('\n');
  let listeners = 0;
  const out: string[] = [];
  for (const line of lines) {
    if (/^listener\s/.test(line)) out.push(`listener ${listeners++ === 0 ? o.port : await freePort()} 127.0.0.1`);
    else if (/^password_file\s/.test(line)) out.push(`password_file ${o.passwd}`);
    else if (/^acl_file\s/.test(line)) out.push(`acl_file ${o.acl}`);
    else out.push(line);
  }
  if (listeners === 0) throw new Error('examples/mosquitto/mosquitto.conf has no listener');
  return `${out.join('\n')}\npersistence false\n`;
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
