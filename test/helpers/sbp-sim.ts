// The firmware-bridge host simulator for serial tests: built with cmake when missing. A simulator that cannot
// be built fails the serial tests with the packages to install (.ci/run installs them and builds it first).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import type { SerialTransport } from '../../src/transports/serial/serial-transport.js';
import { defaultSimulatorBinary, type SbpSimulator } from '../../src/transports/serial/sim-process.js';
import { MissingToolError, requireCommand } from './required-tools.js';

const BRIDGE = fileURLToPath(new URL('../../../firmware-bridge/', import.meta.url));

/** The simulator binary, built if missing; throws (MissingToolError when a tool is absent) when it cannot be. */
export function ensureSimulator(): string {
  const binary = defaultSimulatorBinary();
  if (existsSync(binary)) return binary;
  if (process.env.STRIATUM_SBP_SIM !== undefined) throw new Error(`STRIATUM_SBP_SIM=${binary} does not exist`);
  requireCommand('cmake', ['cmake', 'gcc', 'libc6-dev']);
  requireCommand('cc', ['gcc', 'libc6-dev']);
  try {
    execFileSync('cmake', ['-S', BRIDGE, '-B', join(BRIDGE, 'build')], { stdio: 'pipe' });
    execFileSync('cmake', ['--build', join(BRIDGE, 'build'), '--target', 'sbp_sim'], { stdio: 'pipe' });
  } catch (err) {
    const e = err as { message: string; stderr?: Buffer };
    throw new MissingToolError(`building the host simulator failed (${e.stderr?.toString().trim().split('\n').pop() ?? e.message})`,
      ['cmake', 'gcc', 'libc6-dev']);
  }
  if (!existsSync(binary)) throw new Error(`cmake ran but ${binary} is missing`);
  return binary;
}

/**
 * For a serial test file: build the simulator before its tests, and stop whatever a failed assertion left open
 * after them — transports first (they end safe), then the simulators. Tests push what they start.
 */
export function serialTestResources(): { sims: SbpSimulator[]; transports: SerialTransport[] } {
  const sims: SbpSimulator[] = [];
  const transports: SerialTransport[] = [];
  before(() => { ensureSimulator(); });
  after(async () => {
    for (const t of transports) await t.close();
    for (const s of sims) await s.stop();
  });
  return { sims, transports };
}
