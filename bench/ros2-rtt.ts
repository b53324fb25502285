// bench/ros2-rtt: command → joint-state round trip through ros2-bridge's C robot peer in echo mode over Cyclone
// DDS on loopback (each Float64MultiArray command is answered at once by a JointState carrying it), from
// Striatum's ROS 2 path (the transport's command encoder → striatum_dds_bridge → DDS → peer → DDS → bridge →
// the joint-state matcher) and from a C client with idlc types (ros2-bridge/bench/c_rtt_client.c), same peer,
// same QoS, same rate, in alternating segments of one run. Prints one JSON object with both distributions and
// the p50 ratio (goal: Striatum ≤ 1.5× the C pair).
// Usage: node dist/bench/ros2-rtt.js [--count N] [--segments S] [--rate HZ] [--joints J]
// Needs ros2-bridge built (cmake -S ros2-bridge -B ros2-bridge/build && cmake --build ros2-bridge/build).
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RealtimeClock } from '../src/control/scheduler.js';
import { silentLogger } from '../src/log.js';
import { CommandEncoder, commandLayout } from '../src/transports/ros2/command-encoder.js';
import { CycloneDdsBackend } from '../src/transports/ros2/cyclonedds-backend.js';
import { JointStateMatcher } from '../src/transports/ros2/joint-state-matcher.js';
import { FLOAT64_MULTI_ARRAY, JOINT_STATE } from '../src/transports/ros2/messages.js';
import { benchArgs } from './bench-args.js';

const values = benchArgs(import.meta.url, { count: { type: 'string' }, segments: { type: 'string' }, rate: { type: 'string' }, joints: { type: 'string' } });
const COUNT = Number(values.count ?? 1000);
const SEGMENTS = Number(values.segments ?? 2);
const RATE = Number(values.rate ?? 500);
const JOINTS = Number(values.joints ?? 6);
const BUILD = fileURLToPath(new URL('../../ros2-bridge/build/', import.meta.url));
const names = Array.from({ length: JOINTS }, (_, i) => `j${i}`);

// Loopback only, a domain of its own (as the tests do), unless the caller configured Cyclone.
const dir = mkdtempSync(join(tmpdir(), 'striatum-ros2-rtt-'));
if (process.env.CYCLONEDDS_URI === undefined) {
  writeFileSync(join(dir, 'cyclonedds.xml'), '<CycloneDDS><Domain id="any"><General><Interfaces><NetworkInterface name="lo"/></Interfaces><AllowMulticast>false</AllowMulticast></General><Discovery><Peers><Peer address="127.0.0.1"/></Peers><ParticipantIndex>auto</ParticipantIndex><MaxAutoParticipantIndex>30</MaxAutoParticipantIndex></Discovery></Domain></CycloneDDS>');
  process.env.CYCLONEDDS_URI = `file://${join(dir, 'cyclonedds.xml')}`;
}
const domainId = Number(process.env.ROS_DOMAIN_ID ?? 1 + Math.floor(Math.random() * 200));
process.env.ROS_DOMAIN_ID = String(domainId);

const quantile = (sorted: number[], q: number) => sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const round = (v: number) => Math.round(v * 10) / 10;
const summary = (rtts: number[], lost: number) => {
  const s = [...rtts].sort((a, b) => a - b);
  return { p50_us: round(quantile(s, 0.5)), p90_us: round(quantile(s, 0.9)), p99_us: round(quantile(s, 0.99)), max_us: round(s.at(-1) ?? NaN), count: s.length, lost };
};

function cClient(firstSeq: number): Promise<{ rtt_us: number[]; lost: number }> {
  return new Promise((resolve, reject) => {
    execFile(join(BUILD, 'ros2_c_rtt_client'), ['--count', String(COUNT), '--rate', String(RATE), '--joints', String(JOINTS), '--first-seq', String(firstSeq)],
      { maxBuffer: 64 << 20 }, (err, stdout) => (err ? reject(err) : resolve(JSON.parse(stdout) as { rtt_us: number[]; lost: number })));
  });
}

async function main(): Promise<void> {
  const peer = spawn(join(BUILD, 'ros2_robot_peer'), ['--joints', names.join(','), '--rate', String(RATE), '--echo', '--extra-joint', 'finger'], { stdio: ['pipe', 'ignore', 'inherit'] });
  const backend = new CycloneDdsBackend({ nodeName: 'striatum_bench', namespace: '', domainId, binary: null, logger: silentLogger, discoveryGidBytes: 0 });
  try {
    await backend.open();
    const publisher = await backend.publisher('/forward_velocity_controller/commands', FLOAT64_MULTI_ARRAY, { reliability: 'reliable', durability: 'volatile', depth: 10 });
    const encoder = new CommandEncoder(publisher, commandLayout('forward_command', names, 'velocity', 1 / RATE), JOINTS);
    const matcher = new JointStateMatcher(names);
    let pendingSeq = -1;
    let sentAt = 0;
    let answered: (() => void) | null = null;
    const striatumRtts: number[] = [];
    await backend.subscribe('/joint_states', JOINT_STATE, { reliability: 'best_effort', durability: 'volatile', depth: 5 }, (payload) => {
      if (matcher.accept(payload) === null && matcher.positions[0] === pendingSeq) {
        striatumRtts.push((performance.now() - sentAt) * 1000);
        pendingSeq = -1;
        answered?.();
      }
    });
    // Discovery both ways before timing.
    for (let i = 0; i < 500 && publisher.matched < 1; i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 500));
    const clock = new RealtimeClock(400);
    const targets = new Float64Array(JOINTS);
    let seq = 1;
    let striatumLost = 0;
    const striatumSegment = async (): Promise<number[]> => {
      const start = striatumRtts.length;
      let slot = clock.now();
      for (let k = 0; k < COUNT; k++) {
        targets[0] = seq;
        pendingSeq = seq++;
        const got = new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), 100);
          answered = () => { clearTimeout(timer); resolve(true); };
        });
        sentAt = performance.now();
        encoder.send(targets);
        if (!(await got)) { striatumLost++; pendingSeq = -1; }
        answered = null;
        slot += 1000 / RATE;
        if (slot > clock.now()) await clock.sleepUntil(slot);
        else slot = clock.now();
      }
      return striatumRtts.slice(start);
    };
    const cRtts: number[] = [];
    let cLost = 0;
    const segments: { striatum_p50_us: number; c_p50_us: number; ratio: number }[] = [];
    for (let s = 0; s < SEGMENTS; s++) {
      const st = await striatumSegment();
      const c = await cClient(1e9 + s * COUNT * 2);
      cRtts.push(...c.rtt_us);
      cLost += c.lost;
      const sp50 = quantile([...st].sort((a, b) => a - b), 0.5);
      const cp50 = quantile(c.rtt_us, 0.5);
      segments.push({ striatum_p50_us: round(sp50), c_p50_us: round(cp50), ratio: Math.round((sp50 / cp50) * 100) / 100 });
    }
    const striatum = summary(striatumRtts, striatumLost);
    const cPair = summary(cRtts, cLost);
    process.stdout.write(`${JSON.stringify({
      bench: 'ros2-rtt',
      what: 'Float64MultiArray command → JointState echo through ros2_robot_peer --echo, Cyclone DDS on loopback',
      rate_hz: RATE, joints: JOINTS, count_per_segment: COUNT, segments: SEGMENTS, cpus: cpus().length,
      striatum, c_pair: cPair, segment_ratios: segments,
      p50_ratio: Math.round((striatum.p50_us / cPair.p50_us) * 100) / 100,
      p99_ratio: Math.round((striatum.p99_us / cPair.p99_us) * 100) / 100,
      goal: 'striatum p50 <= 1.5 x the C pair',
      pass: striatum.p50_us <= 1.5 * cPair.p50_us,
    }, null, 2)}\n`);
  } finally {
    await backend.close();
    peer.stdin!.end('quit\n');
    peer.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
