// ros2-bridge's programs for the ROS 2 tests: built with cmake against Debian's Cyclone DDS when missing, and a
// Cyclone configuration confined to the loopback interface with a domain of the test's own, so parallel runs
// and the machine's network never see each other's traffic.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MissingToolError, requireCycloneDds } from './required-tools.js';

export const ROS2_BRIDGE_DIR = fileURLToPath(new URL('../../../ros2-bridge/', import.meta.url));
export const ROS2_BUILD_DIR = join(ROS2_BRIDGE_DIR, 'build');
const CYCLONE_PACKAGES = ['cmake', 'gcc', 'cyclonedds-dev', 'cyclonedds-tools', 'libddsc0debian'];

/**
 * Build ros2-bridge (bridge, golden tool, robot peer, C round-trip client) once per test process: cmake's build
 * is incremental, so an up-to-date tree costs a moment and an edited C file is never tested stale.
 */
let built = false;
export function ensureRos2Bridge(): string {
  const programs = ['striatum_dds_bridge', 'ros2_golden', 'ros2_robot_peer', 'ros2_c_rtt_client'].map((p) => join(ROS2_BUILD_DIR, p));
  if (built) return ROS2_BUILD_DIR;
  requireCycloneDds();
  try {
    if (!existsSync(join(ROS2_BUILD_DIR, 'CMakeCache.txt'))) execFileSync('cmake', ['-S', ROS2_BRIDGE_DIR, '-B', ROS2_BUILD_DIR], { stdio: 'pipe' });
    execFileSync('cmake', ['--build', ROS2_BUILD_DIR], { stdio: 'pipe' });
  } catch (err) {
    const e = err as { message: string; stderr?: Buffer; stdout?: Buffer };
    const why = `${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? ''}`.trim().split('\n').slice(-3).join(' | ') || e.message;
    throw new MissingToolError(`building ros2-bridge failed (${why})`, CYCLONE_PACKAGES);
  }
  for (const p of programs) if (!existsSync(p)) throw new Error(`cmake ran but ${p} is missing`);
  built = true;
  return ROS2_BUILD_DIR;
}

export interface LoopbackDds {
  /** Environment for every DDS process of the test: CYCLONEDDS_URI (loopback only) and ROS_DOMAIN_ID. */
  readonly env: NodeJS.ProcessEnv;
  readonly domainId: number;
  cleanup(): void;
}

/** A Cyclone configuration on lo only (no multicast, the peer is 127.0.0.1) and a random domain id. */
export function loopbackDds(): LoopbackDds {
  const dir = mkdtempSync(join(tmpdir(), 'striatum-dds-'));
  const file = join(dir, 'cyclonedds.xml');
  writeFileSync(file, [
    '<CycloneDDS><Domain id="any">',
    '<General><Interfaces><NetworkInterface name="lo"/></Interfaces><AllowMulticast>false</AllowMulticast></General>',
    '<Discovery><Peers><Peer address="127.0.0.1"/></Peers><ParticipantIndex>auto</ParticipantIndex><MaxAutoParticipantIndex>30</MaxAutoParticipantIndex></Discovery>',
    '</Domain></CycloneDDS>',
  ].join(''));
  const domainId = 1 + Math.floor(Math.random() * 200);
  return {
    env: { ...process.env, CYCLONEDDS_URI: `file://${file}`, ROS_DOMAIN_ID: String(domainId) },
    domainId,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
