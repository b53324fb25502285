// The ROS 2 transport's parts without a middleware: the joint-state matcher, the command layouts (against the
// golden bytes Cyclone DDS wrote), camera frames, the transport on an in-process backend, backend selection.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { isStriatumError } from '../src/errors.js';
import { createLogger } from '../src/log.js';
import type { Ros2Backend, Ros2Publisher, Ros2Qos } from '../src/transports/ros2/backend.js';
import { CommandEncoder, commandLayout } from '../src/transports/ros2/command-encoder.js';
import { RosCameraChannel } from '../src/transports/ros2/image-frames.js';
import { encodeParticipantEntitiesInfo } from '../src/transports/ros2/discovery-info.js';
import { JointStateMatcher } from '../src/transports/ros2/joint-state-matcher.js';
import {
  BOOL, DIAGNOSTIC_ARRAY, FLOAT64_MULTI_ARRAY, IMAGE, JOINT_STATE, STRING, decodeMessage, encodeMessage, type MessageDef, type MessageValue,
} from '../src/transports/ros2/messages.js';
import { Ros2Transport, resolveTopic, type Ros2TransportOptions } from '../src/transports/ros2/ros2-transport.js';
import { selectRos2Backend } from '../src/transports/ros2/select-backend.js';
import type { JointState, LoopCounters } from '../src/transports/types.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VECTORS = new Map(readFileSync(join(ROOT, 'ros2-bridge', 'vectors', 'messages.txt'), 'utf8').trim().split('\n').map((l) => l.split(' ') as [string, string]));
const quiet = createLogger({ level: 'error' });
const header = { stamp: { sec: 3, nanosec: 4 }, frame_id: '' };
const jointState = (fields: Partial<Record<'name' | 'position' | 'velocity' | 'effort', unknown>>) =>
  encodeMessage(JOINT_STATE, { header, name: [], position: [], velocity: [], effort: [], ...fields }).slice();

test('joint states are matched to the config by name, in any order; extra joints are ignored', () => {
  const m = new JointStateMatcher(['shoulder', 'elbow']);
  assert.equal(m.accept(jointState({ name: ['finger', 'elbow', 'shoulder'], position: [9, 2, 1], velocity: [9, 20, 10], effort: [9, 200, 100] })), null);
  assert.deepEqual([...m.positions], [1, 2]);
  assert.deepEqual([...m.velocities], [10, 20]);
  assert.deepEqual([...m.efforts], [100, 200]);
  assert.equal(m.stampS, 3 + 4e-9);
  // Velocity and effort may be empty (a position-only driver): zeros, not stale values.
  assert.equal(m.accept(jointState({ name: ['elbow', 'shoulder'], position: [5, 6] })), null);
  assert.deepEqual([...m.positions], [6, 5]);
  assert.deepEqual([...m.velocities], [0, 0]);
});

test('a joint state is refused whole: missing joint (named), mismatched lengths, NaN, bad CDR', () => {
  const m = new JointStateMatcher(['shoulder', 'elbow']);
  assert.equal(m.accept(jointState({ name: ['shoulder', 'elbow'], position: [1, 2] })), null);
  assert.equal(m.accept(jointState({ name: ['shoulder', 'wrist'], position: [7, 7] })), 'missing_joint');
  assert.deepEqual(m.missing, ['elbow']);
  assert.equal(m.accept(jointState({ name: ['shoulder', 'elbow'], position: [7] })), 'length_mismatch');
  assert.equal(m.accept(jointState({ name: ['shoulder', 'elbow'], position: [7, 7], velocity: [1] })), 'length_mismatch');
  assert.equal(m.accept(jointState({ name: ['shoulder', 'elbow'], position: [7, Number.NaN] })), 'non_finite');
  assert.equal(m.accept(jointState({ name: ['shoulder', 'elbow'], position: [7, 7], effort: [Infinity, 0] })), 'non_finite');
  assert.equal(m.accept(Uint8Array.from([0, 1, 0, 0, 1, 2])), 'malformed');
  assert.deepEqual([...m.positions], [1, 2], 'refused messages leave the last good state');
  // A NaN in a joint nobody configured does not matter.
  assert.equal(m.accept(jointState({ name: ['shoulder', 'elbow', 'x'], position: [3, 4, Number.NaN] })), null);
});

test('the joint trajectory command is Cyclone\'s golden JointTrajectory byte for byte (one point, time_from_start = period)', () => {
  const layout = commandLayout('joint_trajectory', ['x', 'y'], 'position', 0.02);
  const sent: Buffer[] = [];
  const publisher = fakePublisher(sent, 5);
  const encoder = new CommandEncoder(publisher, layout, 2);
  assert.ok(encoder.send(Float64Array.from([0.1, 0.2])));
  assert.equal(sent[0].subarray(5).toString('hex'), VECTORS.get('joint_trajectory'));
});

test('the forward command is a Float64MultiArray of the targets, written in place into reused buffers', () => {
  const sent: Buffer[] = [];
  const encoder = new CommandEncoder(fakePublisher(sent, 0), commandLayout('forward_command', ['a', 'b', 'c'], 'velocity', 0.01), 3);
  for (let k = 0; k < 20; k++) encoder.send(Float64Array.from([k, -k, 0.5]));
  assert.deepEqual(decodeMessage(FLOAT64_MULTI_ARRAY, sent[19]).data, [19, -19, 0.5]);
  assert.equal(new Set(sent).size, 8, 'eight buffers rotate; none is made per command');
});

test('camera frames: rgb8, bgr8 and mono8 resized to the camera; a lying size or another encoding is refused', () => {
  const cam = new RosCameraChannel('wrist', 2, 2);
  const image = (encoding: string, width: number, height: number, step: number, data: number[]) =>
    encodeMessage(IMAGE, { header, height, width, encoding, is_bigendian: 0, step, data: Uint8Array.from(data) }).slice();
  // 4x2 rgb8 → 2x2: nearest pixels 0 and 2 of each row.
  const px = (r: number) => [r, r + 1, r + 2];
  assert.equal(cam.acceptRaw(image('rgb8', 4, 2, 12, [...px(0), ...px(10), ...px(20), ...px(30), ...px(40), ...px(50), ...px(60), ...px(70)])), null);
  assert.deepEqual([...cam.frame.rgb], [...px(10), ...px(30), ...px(50), ...px(70)]);
  assert.equal(cam.acceptRaw(image('bgr8', 1, 1, 3, [1, 2, 3])), null);
  assert.deepEqual([...cam.frame.rgb.subarray(0, 3)], [3, 2, 1]);
  assert.equal(cam.acceptRaw(image('mono8', 2, 2, 2, [5, 6, 7, 8])), null);
  assert.deepEqual([...cam.frame.rgb], [5, 5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 8]);
  assert.equal(cam.acceptRaw(image('rgb8', 4, 4, 12, [1, 2, 3])), 'bad_size');
  assert.equal(cam.acceptRaw(image('rgb8', 4, 1, 6, new Array(12).fill(0))), 'bad_size');
  assert.equal(cam.acceptRaw(image('yuv422', 2, 2, 4, new Array(8).fill(0))), 'bad_encoding');
  assert.equal(cam.acceptRaw(Uint8Array.from([0, 1, 0, 0, 9])), 'malformed');
  assert.equal(cam.framesIn, 3);
});

test('relative topic names go under the namespace, ~/ under the node, absolute ones stay', () => {
  assert.equal(resolveTopic('/joint_states', '/arm1', 'striatum'), '/joint_states');
  assert.equal(resolveTopic('joint_states', '/arm1', 'striatum'), '/arm1/joint_states');
  assert.equal(resolveTopic('~/state', '/arm1', 'striatum'), '/arm1/striatum/state');
  assert.equal(resolveTopic('joint_states', '', 'striatum'), '/joint_states');
});

// ---- the transport on an in-process backend ---------------------------------------------------------------

function fakePublisher(sent: Buffer[], prefixBytes: number): Ros2Publisher {
  return {
    prefixBytes, inFlight: 0, matched: 1,
    preparePrefix: (b: Buffer) => { b.fill(0xee, 0, prefixBytes); },
    sendPrefixed: (b: Buffer) => { sent.push(b); return true; },
    publish: (p: Uint8Array) => { sent.push(Buffer.from(p)); return true; },
  };
}

class FakeBackend implements Ros2Backend {
  readonly name = 'cyclonedds' as const;
  readonly published = new Map<string, Buffer[]>();
  readonly handlers = new Map<string, (p: Uint8Array) => void>();
  readonly qos = new Map<string, Ros2Qos>();
  closed = false;
  open(): Promise<string> { return Promise.resolve('fake'); }
  publisher(topic: string, _def: MessageDef, qos: Ros2Qos): Promise<Ros2Publisher> {
    const sent: Buffer[] = [];
    this.published.set(topic, sent);
    this.qos.set(topic, qos);
    return Promise.resolve(fakePublisher(sent, 0));
  }
  subscribe(topic: string, _def: MessageDef, qos: Ros2Qos, onMessage: (p: Uint8Array) => void): Promise<void> {
    this.handlers.set(topic, onMessage);
    this.qos.set(topic, qos);
    return Promise.resolve();
  }
  announceNode(): Promise<void> { return Promise.resolve(); }
  close(): Promise<void> { this.closed = true; return Promise.resolve(); }
  deliver(topic: string, def: MessageDef, value: MessageValue): void {
    this.handlers.get(topic)!(encodeMessage(def, value).slice());
  }
}

const QOS = {
  joint_states: { reliability: 'best_effort', durability: 'volatile', depth: 5 },
  commands: { reliability: 'reliable', durability: 'volatile', depth: 10 },
  estop: { reliability: 'reliable', durability: 'volatile', depth: 10 },
  state: { reliability: 'reliable', durability: 'transient_local', depth: 1 },
  diagnostics: { reliability: 'reliable', durability: 'volatile', depth: 10 },
  images: { reliability: 'best_effort', durability: 'volatile', depth: 5 },
} as const;

function transportOn(backend: FakeBackend, overrides: Partial<Ros2TransportOptions> = {}): Ros2Transport {
  return new Ros2Transport({
    backend, robotId: 'arm-1', nodeName: 'striatum', namespace: '', jointNames: ['shoulder', 'elbow'], mode: 'velocity',
    controlHz: 100, linkTimeoutMs: 200, startupTimeoutMs: 2000, jointStatesTopic: '/joint_states', commandInterface: 'forward_command',
    controller: 'fwd', commandTopic: null, estopTopic: '/striatum/estop', stateTopic: '/striatum/state', diagnosticsTopic: '/diagnostics',
    diagnosticsHz: 1, cameras: [], qos: QOS, logger: quiet, ...overrides,
  });
}

const emptyState = (): JointState => ({ stampMs: 0, positions: new Float64Array(2), velocities: new Float64Array(2), efforts: new Float64Array(2), extras: {} });
const counters: LoopCounters = {
  state: 'running', ticks: 10, deadlineMisses: 1, skippedPeriods: 0, overruns: 0, faults: 0, lastFault: null,
  clampedPosition: 0, clampedVelocity: 2, clampedEffort: 0, clampedDelta: 3, nonfiniteActions: 0,
};

test('the transport opens its topics with the configured QoS, waits for a joint state, and reads and writes through them', async () => {
  const backend = new FakeBackend();
  const t = transportOn(backend);
  const opened = t.open();
  await new Promise((r) => setImmediate(r));
  backend.deliver('/joint_states', JOINT_STATE, { header, name: ['elbow', 'shoulder'], position: [2, 1], velocity: [], effort: [] });
  const robot = await opened;
  assert.deepEqual(robot.jointNames, ['shoulder', 'elbow']);
  assert.deepEqual(backend.qos.get('/joint_states'), QOS.joint_states);
  assert.deepEqual(backend.qos.get('/fwd/commands'), QOS.commands);
  assert.deepEqual(backend.qos.get('/striatum/state'), QOS.state);
  const state = emptyState();
  assert.equal(t.readState(state), true);
  assert.deepEqual([...state.positions], [1, 2]);
  assert.equal(t.readState(state), false, 'no fresh state since');
  t.writeCommand({ mode: 'velocity', targets: Float64Array.from([0.5, -0.5]) });
  assert.deepEqual(decodeMessage(FLOAT64_MULTI_ARRAY, backend.published.get('/fwd/commands')![0]).data, [0.5, -0.5]);
  assert.deepEqual(backend.published.get('/striatum/state')!.map((b) => decodeMessage(STRING, b).data), ['idle']);
  await t.close();
  assert.ok(backend.closed);
});

test('e-stop over Bool: true asks the runtime for the e-stop; false and malformed ones do not; state and diagnostics follow', async () => {
  const backend = new FakeBackend();
  const t = transportOn(backend);
  const opened = t.open();
  await new Promise((r) => setImmediate(r));
  backend.deliver('/joint_states', JOINT_STATE, { header, name: ['shoulder', 'elbow'], position: [0, 0], velocity: [], effort: [] });
  await opened;
  const requests: string[] = [];
  t.attachRuntime({ requestEstop: (reason) => requests.push(reason), loopCounters: () => counters });
  backend.deliver('/striatum/estop', BOOL, { data: false });
  backend.handlers.get('/striatum/estop')!(Uint8Array.from([1, 2, 3]));
  assert.deepEqual(requests, []);
  assert.equal(t.stats().rejectedMessages, 1);
  backend.deliver('/striatum/estop', BOOL, { data: true });
  assert.deepEqual(requests, ['estop via ROS 2 topic /striatum/estop']);
  t.controlStateChanged('estopped', 'estop via ROS 2 topic /striatum/estop');
  assert.equal(decodeMessage(STRING, backend.published.get('/striatum/state')!.at(-1)!).data, 'estopped');
  const diag = decodeMessage(DIAGNOSTIC_ARRAY, backend.published.get('/diagnostics')!.at(-1)!);
  const statuses = diag.status as { name: string; level: number; values: { key: string; value: string }[] }[];
  assert.deepEqual(statuses.map((s) => s.name), ['striatum: control loop', 'striatum: safety', 'striatum: ros2 link']);
  assert.equal(statuses[1].values.find((v) => v.key === 'clamped_delta')?.value, '3');
  assert.equal(statuses[2].values.find((v) => v.key === 'rejected.estop_malformed')?.value, '1');
  await t.close();
});

test('no joint state at start-up is STRIATUM_ERR_TRANSPORT; one lacking a configured joint is STRIATUM_ERR_ROS2_JOINTS naming it', async () => {
  const silent = transportOn(new FakeBackend(), { startupTimeoutMs: 50 });
  await assert.rejects(silent.open(), (err) => isStriatumError(err, 'STRIATUM_ERR_TRANSPORT'));
  const backend = new FakeBackend();
  const t = transportOn(backend, { startupTimeoutMs: 100 });
  const opened = t.open();
  await new Promise((r) => setImmediate(r));
  backend.deliver('/joint_states', JOINT_STATE, { header, name: ['shoulder', 'wrist'], position: [0, 0], velocity: [], effort: [] });
  await assert.rejects(opened, (err) => isStriatumError(err, 'STRIATUM_ERR_ROS2_JOINTS') && /elbow/.test(err.message));
});

// ---- backend selection -----------------------------------------------------------------------------------

const rclFake = () => Promise.resolve({ module: {} as never });
const rclMissing = () => Promise.resolve({ why: 'ROS_DISTRO is not set (no sourced ROS 2)' });
const options = { nodeName: 'striatum', namespace: '', domainId: 0, bridge: null };

test('backend auto picks rclnodejs when it loads, else cyclonedds, and logs which and why', async () => {
  const lines: string[] = [];
  const log = createLogger({ level: 'info', sink: { pretty: false, write: (l: string) => { lines.push(l); } } });
  assert.equal((await selectRos2Backend('auto', options, log, rclFake)).name, 'rclnodejs');
  assert.equal((await selectRos2Backend('auto', options, log, rclMissing)).name, 'cyclonedds');
  assert.equal((await selectRos2Backend('cyclonedds', options, log, rclFake)).name, 'cyclonedds');
  const text = lines.join('\n');
  assert.match(text, /ros2 backend: rclnodejs \(auto/);
  assert.match(text, /ros2 backend: cyclonedds \(auto: ROS_DISTRO is not set/);
  await assert.rejects(selectRos2Backend('rclnodejs', options, log, rclMissing), (err) => isStriatumError(err, 'STRIATUM_ERR_ROS2_UNAVAILABLE'));
});

test('ros_discovery_info: the node, its namespace and the gids of its readers and writers, written by hand', () => {
  const guid = (b: number) => Uint8Array.from({ length: 16 }, (_, i) => b + i);
  const u32 = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); return [...b]; };
  const str = (s: string) => [...u32(s.length + 1), ...Buffer.from(s), 0];
  const bytes = encodeParticipantEntitiesInfo({ gidBytes: 16, participant: guid(0), namespace: '', nodeName: 'arm', readers: [guid(100)], writers: [guid(50), guid(70)] });
  const expected = [0, 1, 0, 0, ...guid(0), ...u32(1), ...str('/'), 0, 0, ...str('arm'), ...u32(1), ...guid(100), ...u32(2), ...guid(50), ...guid(70)];
  assert.deepEqual([...bytes], expected);
  const humble = encodeParticipantEntitiesInfo({ gidBytes: 24, participant: guid(0), namespace: '/arm1', nodeName: 'striatum', readers: [], writers: [] });
  assert.deepEqual([...humble.subarray(4, 28)], [...guid(0), 0, 0, 0, 0, 0, 0, 0, 0]); // 16-byte GUID, zero-padded to 24
});
