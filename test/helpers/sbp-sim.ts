// The firmware-bridge host simulator for serial tests: built with cmake when missing. Outside CI a missing
// toolchain is a skip reason; in CI it is a failure (.ci/run installs cmake and builds firmware-bridge first).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultSimulatorBinary } from '../../src/transports/serial/sim-process.js';

const BRIDGE = fileURLToPath(new URL('../../../firmware-bridge/', import.meta.url));

/** The simulator binary, built if missing; a skip reason when it cannot be. */
export function ensureSimulator(): string | false {
  const reason = buildIfMissing();
  if (reason !== false && process.env.CI) throw new Error(`serial tests need the host simulator: ${reason}`);
  return reason;
}

function buildIfMissing(): string | false {
  const binary = defaultSimulatorBinary();
  if (existsSync(binary)) return false;
  if (process.env.STRIATUM_SBP_SIM !== undefined) return `STRIATUM_SBP_SIM=${binary} does not exist`;
  try {
    execFileSync('cmake', ['-S', BRIDGE, '-B', join(BRIDGE, 'build')], { stdio: 'ignore' });
    execFileSync('cmake', ['--build', join(BRIDGE, 'build'), '--target', 'sbp_sim'], { stdio: 'ignore' });
  } catch (err) {
    return `host simulator not built and cmake failed (${(err as Error).message.split('\n')[0]})`;
  }
  return existsSync(binary) ? false : `cmake ran but ${binary} is missing`;
}
