// `striatum run` with transport.kind ros2 (backend cyclonedds) against a ros2_control-style robot on real RTPS:
// ros2-bridge's C robot peer, written with idlc-generated types, publishes /joint_states at 200 Hz and takes
// Float64MultiArray or JointTrajectory commands. Everything runs on the loopback interface in a domain of its own.
// The test watches the robot's own topics (/striatum/state, /diagnostics) through a second DDS participant.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { parse } from 'yaml';
import { createLogger } from '../src/log.js';
import { CycloneDdsBackend } from '../src/transports/ros2/cyclonedds-backend.js';
import { BOOL, DIAGNOSTIC_ARRAY, JOINT_STATE, STRING, decodeMessage, encodeMessage, type MessageValue } from '../src/transports/ros2/messages.js';
import { runCli, startCli, tempDir, waitFor, writeConfig } from './helpers/fixtures.js';
import { ensureRos2Bridge, loopbackDds, type LoopbackDds } from './helpers/ros2-bridge.js';
import { RobotPeer } from './helpers/ros2-peer.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLE = join(ROOT, 'examples', 'ros2-peer.yaml');
const JOINTS = ['base', 'shoulder', 'elbow', 'wrist_pitch', 'wrist_roll', 'gripper'];

let dds: LoopbackDds;
const peers: RobotPeer[] = [];
const runs: ReturnType<typeof startCli>[] = [];
const observers: CycloneDdsBackend[] = [];

before(() => {
  ensureRos2Bridge();
  dds = loopbackDds();
  // The observer's bridge (spawned by this process) must see the same loopback configuration.
  process.env.CYCLONEDDS_URI = dds.env.CYCLONEDDS_URI;
});
after(async () => {
  for (const r of runs) r.child.kill('SIGKILL');
  for (const p of peers) await p.kill();
  for (const o of observers) await o.close();
  dds?.cleanup();
});

/** examples/ros2-peer.yaml as shipped, with a free MQTT port and the given transport changes. */
function exampleConfig(dir: string, transport: Record<string, unknown> = {}, extra: (cfg: any) => void = () => undefined): string {
  const cfg = parse(readFileSync(EXAMPLE, 'utf8'));
  cfg.policy.model = join(ROOT, 'models', 'joint-tracking', 'policy.onnx');
  cfg.policy.warmup_runs = 2;
  cfg.mqtt = { ...cfg.mqtt, port: 0, ws_port: null };
  cfg.transport = { ...cfg.transport, backend: 'cyclonedds', ...transport };
  // Timing is not what these tests judge: on a shared, loaded machine a late tick must not end a run in a
  // deadline storm, nor a scheduling pause look like a dead robot.
  cfg.control.deadline_storm = { window: 100, max_misses: 1_000_000 };
  cfg.control.link_timeout_ms = 1000;
  extra(cfg);
  return writeConfig(dir, cfg);
}

async function startPeer(extraArgs: string[] = []): Promise<RobotPeer> {
  // One robot at a time on the domain: a peer left over from an earlier test would feed this one's joint states.
  for (const p of peers) await p.kill();
  const peer = await RobotPeer.start(['--joints', JOINTS.join(','), '--rate', '200', '--extra-joint', 'finger', ...extraArgs], dds.env);
  peers.push(peer);
  return peer;
}

async function startRun(config: string): Promise<ReturnType<typeof startCli>> {
  // One Striatum at a time on the domain: a run a failed test left behind would command this test's robot.
  for (const r of runs) {
    if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    await r.exited;
  }
  const run = startCli(['run', '--config', config], dds.env);
  runs.push(run);
  return run;
}

/** A second participant that reads Striatum's state and diagnostics and can publish on its topics. */
async function observer(): Promise<{ backend: CycloneDdsBackend; states: string[]; diagnostics: MessageValue[] }> {
  const backend = new CycloneDdsBackend({ nodeName: 'observer', namespace: '', domainId: dds.domainId, binary: null, logger: createLogger({ level: 'error' }) });
  observers.push(backend);
  await backend.open();
  const states: string[] = [];
  const diagnostics: MessageValue[] = [];
  await backend.subscribe('/striatum/state', STRING, { reliability: 'reliable', durability: 'transient_local', depth: 1 }, (p) => {
    states.push(String(decodeMessage(STRING, p).data));
  });
  await backend.subscribe('/diagnostics', DIAGNOSTIC_ARRAY, { reliability: 'reliable', durability: 'volatile', depth: 10 }, (p) => {
    diagnostics.push(decodeMessage(DIAGNOSTIC_ARRAY, p));
  });
  return { backend, states, diagnostics };
}

const transitionTo = (run: ReturnType<typeof startCli>, to: string) =>
  run.logs().find((l) => l.msg === 'state transition' && l.to === to);

function diagnosticValue(message: MessageValue, statusSuffix: string, key: string): string | undefined {
  const status = (message.status as { name: string; values: { key: string; value: string }[] }[]).find((s) => s.name.endsWith(statusSuffix));
  return status?.values.find((v) => v.key === key)?.value;
}

test('striatum run drives a ros2_control-style robot over Cyclone DDS within limits; killing the robot ends in link_loss', async () => {
  const dir = tempDir();
  const peer = await startPeer(['--command-topic', '/forward_velocity_controller/commands', '--image-topic', '/camera/image_raw']);
  const run = await startRun(exampleConfig(dir, { cameras: [{ name: 'wrist', topic: '/camera/image_raw', width: 16, height: 16 }] }));
  await waitFor('the control loop to start', () => run.logs().find((l) => l.msg === 'control loop started'), 30_000);
  const watch = await observer();
  // Late subscriber, latched topic: the state published at start-up still arrives.
  await waitFor('running on /striatum/state', () => watch.states.includes('running'), 10_000);
  await waitFor('150 commands at the robot', () => (peer.latestStats()?.commands ?? 0) >= 150, 20_000);
  const stats = peer.latestStats()!;
  const cfg = parse(readFileSync(EXAMPLE, 'utf8'));
  cfg.joints.forEach((j: { name: string; velocity: number }, i: number) => {
    assert.ok(stats.max_abs_command![i] <= j.velocity + 1e-9, `${j.name}: |command| ${stats.max_abs_command![i]} exceeds ${j.velocity}`);
  });
  // The tracking policy moved the arm from zero toward its home pose.
  assert.ok(stats.positions!.reduce((s, p) => s + Math.abs(p), 0) > 0.3, `the robot did not move: ${JSON.stringify(stats.positions)}`);
  // The node on ros_discovery_info, as rmw_cyclonedds_cpp announces nodes: `ros2 node list` on a ROS machine shows it.
  const infos: Buffer[] = [];
  await watch.backend.ddsSubscribe('ros_discovery_info', 'rmw_dds_common::msg::dds_::ParticipantEntitiesInfo_',
    { reliability: 'reliable', durability: 'transient_local', depth: 1 }, (p) => infos.push(Buffer.from(p)));
  const info = await waitFor('striatum on ros_discovery_info', () => infos.find((b) => b.includes(Buffer.from('striatum\0'))), 10_000);
  // gid(16) | 1 node | "/" | "striatum" | 3 readers (e-stop, camera, joint states) | 3 writers (commands, state, diagnostics)
  assert.equal(info.readUInt32LE(4 + 16), 1);
  const readersAt = 4 + 16 + 4 + 8 + 4 + 9 + 3;
  assert.equal(info.readUInt32LE(readersAt), 3);
  assert.equal(info.readUInt32LE(readersAt + 4 + 3 * 16), 3);
  const diag = await waitFor('a /diagnostics message from a running loop', () => watch.diagnostics.find((d) => diagnosticValue(d, 'control loop', 'state') === 'running'), 10_000);
  assert.ok(Number(diagnosticValue(diag, 'control loop', 'periodicity.average')) > 0);
  assert.ok(Number(diagnosticValue(diag, 'control loop', 'execution_time.average')) > 0);
  assert.equal(diagnosticValue(diag, 'ros2 link', 'backend'), 'cyclonedds');
  // The peer's 32x24 rgb8 camera arrives, resized to the configured 16x16, and nothing it sent was refused.
  await waitFor('camera frames in /diagnostics', () => watch.diagnostics.some((d) => Number(diagnosticValue(d, 'ros2 link', 'images_in')) > 0), 10_000);
  assert.equal(diagnosticValue(watch.diagnostics.at(-1)!, 'ros2 link', 'rejected.bad_size'), '0');
  assert.equal(run.logs().find((l) => l.msg === 'state transition' && l.to === 'estopped'), undefined);

  await peer.kill('SIGKILL');
  const fault = await waitFor('the safe state after the robot died', () => transitionTo(run, 'estopped'), 10_000);
  assert.match(fault.reason, /link_loss/);
  await waitFor('estopped on /striatum/state', () => watch.states.at(-1) === 'estopped', 10_000);
  run.child.kill('SIGINT');
  assert.equal(await run.exited, 0);
});

test('a std_msgs/Bool true on /striatum/estop latches the e-stop: commands go to zero and false does not clear it', async () => {
  const dir = tempDir();
  const peer = await startPeer(['--command-topic', '/forward_velocity_controller/commands']);
  const run = await startRun(exampleConfig(dir));
  await waitFor('50 commands at the robot', () => (peer.latestStats()?.commands ?? 0) >= 50, 30_000);
  peer.send('estop');
  const estop = await waitFor('the e-stop', () => transitionTo(run, 'estopped'), 10_000);
  assert.match(estop.reason, /estop via ROS 2 topic \/striatum\/estop/);
  await peer.waitFor((e) => e.event === 'estop', 5000, 'the peer to hear its own e-stop');
  const watch = await observer();
  await watch.backend.publisher('/striatum/estop', BOOL, { reliability: 'reliable', durability: 'volatile', depth: 10 })
    .then((p) => p.publish(encodeMessage(BOOL, { data: false })));
  await waitFor('estopped on /striatum/state', () => watch.states.at(-1) === 'estopped', 10_000);
  const seenAt = peer.events.length;
  await peer.waitFor((e) => peer.events.indexOf(e) > seenAt && e.event === 'stats', 5000, 'stats after the e-stop');
  assert.deepEqual(peer.latestStats()!.last_command, JOINTS.map(() => 0)); // velocity mode: the safe command is zero
  assert.equal(run.logs().filter((l) => l.msg === 'state transition').at(-1)?.to, 'estopped'); // still latched
  run.child.kill('SIGINT');
  assert.equal(await run.exited, 0);
});

test('a configured joint missing from /joint_states stops start-up with STRIATUM_ERR_ROS2_JOINTS naming it (exit 4)', async () => {
  const dir = tempDir();
  await startPeer();
  const config = exampleConfig(dir, { startup_timeout_ms: 2000 }, (cfg) => {
    cfg.joints.push({ name: 'ghost_joint', position: { min: -1, max: 1 }, velocity: 1, effort: 1 });
  });
  const r = await runCli(['run', '--config', config], { env: dds.env, timeoutMs: 30_000 });
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /STRIATUM_ERR_ROS2_JOINTS/);
  assert.match(r.stderr, /ghost_joint/);
});

test('malformed joint states are rejected and counted without a crash, and a stream of them ends in link_loss', async () => {
  const dir = tempDir();
  const peer = await startPeer(['--command-topic', '/forward_velocity_controller/commands']);
  const run = await startRun(exampleConfig(dir));
  await waitFor('the control loop to start', () => run.logs().find((l) => l.msg === 'control loop started'), 30_000);
  await waitFor('50 commands at the robot', () => (peer.latestStats()?.commands ?? 0) >= 50, 30_000);
  const watch = await observer();
  const bad = await watch.backend.publisher('/joint_states', JOINT_STATE, { reliability: 'reliable', durability: 'volatile', depth: 10 });
  const good = { header: { stamp: { sec: 0, nanosec: 0 }, frame_id: '' }, name: JOINTS, position: JOINTS.map(() => 0), velocity: [], effort: [] };
  const nan = encodeMessage(JOINT_STATE, { ...good, position: JOINTS.map(() => Number.NaN) }).slice();
  const mismatched = encodeMessage(JOINT_STATE, { ...good, position: [0, 0] }).slice();
  const garbage = Uint8Array.from([0, 1, 0, 0, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3]);
  peer.send('silence'); // the robot stops publishing: only bad joint states arrive from now on
  const stream = setInterval(() => { bad.publish(nan); bad.publish(mismatched); bad.publish(garbage); }, 10);
  try {
    const fault = await waitFor('link_loss under a stream of bad joint states', () => transitionTo(run, 'estopped'), 10_000);
    assert.match(fault.reason, /link_loss/);
    const diag = await waitFor('diagnostics counting the rejections', () => watch.diagnostics.find((d) =>
      Number(diagnosticValue(d, 'ros2 link', 'rejected.non_finite')) > 0 && Number(diagnosticValue(d, 'ros2 link', 'rejected.length_mismatch')) > 0
      && Number(diagnosticValue(d, 'ros2 link', 'rejected.malformed')) > 0), 10_000);
    assert.ok(diag);
  } finally {
    clearInterval(stream);
  }
  assert.equal(run.child.exitCode, null, 'the process is still running');
  run.child.kill('SIGINT');
  assert.equal(await run.exited, 0);
});

test('command_interface joint_trajectory: one point per tick, reached at time_from_start = the control period', async () => {
  const dir = tempDir();
  const peer = await startPeer(['--trajectory', '--command-topic', '/arm_controller/joint_trajectory']);
  const run = await startRun(exampleConfig(dir, { command_interface: 'joint_trajectory', controller: 'arm_controller' }));
  await waitFor('50 trajectories at the robot', () => (peer.latestStats()?.commands ?? 0) >= 50, 30_000);
  const stats = peer.latestStats()!;
  assert.equal(stats.time_from_start_ns, 10_000_000); // 100 Hz
  assert.ok(stats.positions!.reduce((s, p) => s + Math.abs(p), 0) > 0.1, 'the velocities in the trajectory moved the robot');
  run.child.kill('SIGINT');
  assert.equal(await run.exited, 0);
});

test('doctor tries both ROS 2 backends for real; config check and doctor refuse backend cyclonedds without the bridge', async () => {
  const dir = tempDir();
  const config = exampleConfig(dir);
  const ok = await runCli(['doctor', '--json', '--config', config], { env: dds.env, timeoutMs: 60_000 });
  const checks = new Map((JSON.parse(ok.stdout) as { name: string; verdict: string; detail: string }[]).map((c) => [c.name, c]));
  assert.equal(checks.get('ROS 2 cyclonedds')?.verdict, 'ok', checks.get('ROS 2 cyclonedds')?.detail);
  assert.match(checks.get('ROS 2 cyclonedds')!.detail, /participant [0-9a-f]{32}/);
  assert.equal(checks.get('ROS 2 rclnodejs')?.verdict, process.env.ROS_DISTRO === undefined ? 'warn' : checks.get('ROS 2 rclnodejs')?.verdict);
  assert.equal(checks.get('ROS 2')?.verdict, 'ok');
  const env = { ...dds.env, STRIATUM_DDS_BRIDGE: join(dir, 'no-bridge') };
  const missing = await runCli(['doctor', '--json', '--config', config], { env, timeoutMs: 60_000 });
  const missingChecks = new Map((JSON.parse(missing.stdout) as { name: string; verdict: string }[]).map((c) => [c.name, c]));
  assert.equal(missingChecks.get('ROS 2 cyclonedds')?.verdict, 'warn');
  assert.equal(missingChecks.get('config')?.verdict, 'fail'); // backend cyclonedds, bridge missing: run would refuse
  assert.equal(missing.code, 1);
  const check = await runCli(['config', 'check', config], { env });
  assert.equal(check.code, 2);
  assert.match(check.stderr, /transport\.bridge/);
});
