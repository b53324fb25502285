// Shared test fixtures: temp dirs, configs for the simulated robot, real ONNX policies, the CLI as a child process.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { linearPolicyModel } from './onnx-builder.js';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = join(REPO, 'dist/src/cli/main.js');

const tempDirs: string[] = [];

/** A fresh directory under the system's temp dir, removed when the test file's process exits (keep them with STRIATUM_KEEP_TEST_DIRS=1). */
export function tempDir(prefix = 'striatum-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (tempDirs.length === 0 && process.env.STRIATUM_KEEP_TEST_DIRS !== '1') {
    process.once('exit', () => {
      for (const d of tempDirs) {
        try { rmSync(d, { recursive: true, force: true }); } catch { /* left behind, as before */ }
      }
    });
  }
  tempDirs.push(dir);
  return dir;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export const SIM_FIELDS = [
  { name: 'joint_positions', size: 2 }, { name: 'joint_velocities', size: 2 },
  { name: 'block_position', size: 2 }, { name: 'pad_position', size: 2 },
];

/**
 * A real ONNX policy for the sim: velocity = gain · (block_position − joint_positions), one action per call
 * (chunk 1) or repeated over a chunk. Written with its metadata into dir; returns the model path.
 */
export function writeLinearPolicy(dir: string, options: { gain?: number; chunk?: number; bias?: number; name?: string; obsDim?: number } = {}): string {
  const gain = options.gain ?? 2;
  const chunk = options.chunk ?? 1;
  const obsDim = options.obsDim ?? 8;
  const width = chunk * 2;
  const W = new Array<number>(obsDim * width).fill(0);
  for (let c = 0; c < chunk; c++) {
    for (let j = 0; j < 2; j++) {
      const col = c * 2 + j;
      W[j * width + col] = -gain; // joint_positions[j]
      if (obsDim >= 6) W[(4 + j) * width + col] = gain; // block_position[j]
    }
  }
  const b = new Array<number>(width).fill(options.bias ?? 0);
  const model = linearPolicyModel(obsDim, 2, chunk, W, b);
  const name = options.name ?? 'policy';
  const modelPath = join(dir, `${name}.onnx`);
  writeFileSync(modelPath, model);
  writeFileSync(join(dir, `${name}.json`), JSON.stringify({
    format: 'striatum.policy/v1', name: 'linear-test', version: 'test-1', task: 'push', model: `${name}.onnx`,
    inputs: [{ name: 'observation', shape: [-1, 8], dtype: 'float32' }],
    outputs: [{ name: 'action', shape: [-1, chunk, 2], dtype: 'float32' }],
    observation: { fields: SIM_FIELDS },
    action: { mode: 'velocity', joints: ['x', 'y'], chunk },
  }, null, 2));
  return modelPath;
}

/** A folder `root/name` holding a linear policy (policy.onnx + policy.json) whose metadata says `version`. */
export function writeVersionedPolicy(root: string, name: string, version: string, gain: number): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeLinearPolicy(dir, { gain });
  const metaPath = join(dir, 'policy.json');
  const meta = JSON.parse(readFileSync(metaPath, 'utf8'));
  meta.version = version;
  writeFileSync(metaPath, JSON.stringify(meta));
  return dir;
}

/** A sim robot config as a plain object; tests adjust it and write it with writeConfig(). */
export function simConfig(modelPath: string, overrides: { port?: number; wsPort?: number | null; robotId?: string; broker?: string } = {}): Record<string, any> {
  return {
    robot: { id: overrides.robotId ?? 'sim-test', task: 'push' },
    joints: ['x', 'y'].map((name) => ({ name, position: { min: 0.03, max: 0.77 }, velocity: 0.25, effort: 20, acceleration: 2.5 })),
    // Real time at 50 Hz, but these tests are about what the robot does, not its timing: a busy CI machine can
    // starve the loop for a second, which the default storm rule (20 misses or skipped periods in 100 ticks)
    // would latch as a fault. Timing faults have their own tests with a controlled clock.
    control: { rate_hz: 50, realtime: true, deadline_storm: { window: 100, max_misses: 2000 } },
    observation: { fields: SIM_FIELDS.map((f) => f.name), normalization: 'model' },
    action: { mode: 'velocity', chunk: 1 },
    policy: { model: modelPath, warmup_runs: 2 },
    transport: { kind: 'sim', time_limit_s: 1.5, cameras: [{ name: 'top', width: 48, height: 48, hz: 5 }] },
    mqtt: {
      broker: overrides.broker ?? 'embedded', host: '127.0.0.1', port: overrides.port ?? 0,
      ws_port: overrides.wsPort === undefined ? null : overrides.wsPort, telemetry_hz: 5,
      users: [
        { username: 'operator', password: 'operator-pass', role: 'operator' },
        { username: 'other-robot', password: 'other-robot-pass', role: 'robot' },
      ],
    },
    episodes: { count: null, seed: 7 },
  };
}

export function writeConfig(dir: string, config: unknown, name = 'robot.yaml'): string {
  const path = join(dir, name);
  writeFileSync(path, typeof config === 'string' ? config : stringify(config));
  return path;
}

export interface CliResult { code: number | null; stdout: string; stderr: string }

export function runCli(args: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/** Start the CLI in the background; lines of stderr (JSON logs) are collected. */
export function startCli(args: string[], env?: NodeJS.ProcessEnv): { child: ChildProcess; logs: () => Record<string, any>[]; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, '--log-format', 'json', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
  let buf = '';
  const lines: Record<string, any>[] = [];
  child.stderr!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try { lines.push(JSON.parse(line)); } catch { lines.push({ raw: line }); }
    }
  });
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, logs: () => lines, exited };
}

export async function waitFor<T>(what: string, probe: () => T | undefined | null | false, timeoutMs = 20_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
