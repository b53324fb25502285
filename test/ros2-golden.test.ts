// Golden bytes: Striatum's TypeScript CDR codec against what Cyclone DDS's own serializer puts on the wire for
// idlc-generated ROS 2 types (ros2-bridge/tools/golden.c). The vectors are checked in; the C tool proves they
// are fresh and decodes what TypeScript encodes.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  BOOL, COMPRESSED_IMAGE, DIAGNOSTIC_ARRAY, FLOAT64_MULTI_ARRAY, IMAGE, JOINT_STATE, JOINT_TRAJECTORY, STRING,
  ddsTopicName, ddsTypeName, decodeMessage, encodeMessage, type MessageDef, type MessageValue,
} from '../src/transports/ros2/messages.js';
import { CdrWriter } from '../src/transports/ros2/cdr.js';
import { isStriatumError } from '../src/errors.js';
import { ensureRos2Bridge, loopbackDds, ROS2_BRIDGE_DIR, type LoopbackDds } from './helpers/ros2-bridge.js';

// The same samples as golden.c builds.
const SAMPLES: Record<string, { def: MessageDef; value: MessageValue }> = {
  joint_state: {
    def: JOINT_STATE,
    value: {
      header: { stamp: { sec: 1700000000, nanosec: 123456789 }, frame_id: 'base_link' },
      name: ['shoulder', 'elbow', 'wrist'], position: [0.5, -1.25, 3.0], velocity: [0.1, 0.2, -0.3], effort: [],
    },
  },
  float64_multi_array: {
    def: FLOAT64_MULTI_ARRAY,
    value: { layout: { dim: [{ label: 'joints', size: 2, stride: 2 }], data_offset: 0 }, data: [0.25, -0.5] },
  },
  joint_trajectory: {
    def: JOINT_TRAJECTORY,
    value: {
      header: { stamp: { sec: 0, nanosec: 0 }, frame_id: '' }, joint_names: ['x', 'y'],
      points: [{ positions: [0.1, 0.2], velocities: [], accelerations: [], effort: [], time_from_start: { sec: 0, nanosec: 20_000_000 } }],
    },
  },
  bool: { def: BOOL, value: { data: true } },
  string: { def: STRING, value: { data: 'running' } },
  diagnostic_array: {
    def: DIAGNOSTIC_ARRAY,
    value: {
      header: { stamp: { sec: 12, nanosec: 500 }, frame_id: '' },
      status: [
        { level: 0, name: 'striatum: control loop', message: 'running', hardware_id: 'robot-1',
          values: [{ key: 'periodicity.average', value: '0.02' }, { key: 'deadline_misses', value: '0' }] },
        { level: 2, name: 'striatum: safety', message: 'estopped', hardware_id: 'robot-1', values: [] },
      ],
    },
  },
  image: {
    def: IMAGE,
    value: {
      header: { stamp: { sec: 1, nanosec: 2 }, frame_id: 'camera' }, height: 2, width: 3, encoding: 'rgb8', is_bigendian: 0, step: 9,
      data: Uint8Array.from({ length: 18 }, (_, i) => i),
    },
  },
  compressed_image: {
    def: COMPRESSED_IMAGE,
    value: { header: { stamp: { sec: 1, nanosec: 2 }, frame_id: 'camera' }, format: 'jpeg', data: Uint8Array.from([0xff, 0xd8, 0xff, 0xd9]) },
  },
};

function readVectors(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const [name, hex] = line.trim().split(' ');
    if (name && hex) out.set(name, hex);
  }
  return out;
}

const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const vectors = readVectors(readFileSync(join(ROS2_BRIDGE_DIR, 'vectors', 'messages.txt'), 'utf8'));

test('type and topic names are the ones rmw_cyclonedds_cpp uses', () => {
  assert.equal(ddsTypeName(JOINT_STATE), 'sensor_msgs::msg::dds_::JointState_');
  assert.equal(ddsTypeName(FLOAT64_MULTI_ARRAY), 'std_msgs::msg::dds_::Float64MultiArray_');
  assert.equal(ddsTypeName(DIAGNOSTIC_ARRAY), 'diagnostic_msgs::msg::dds_::DiagnosticArray_');
  assert.equal(ddsTopicName('/joint_states'), 'rt/joint_states');
  assert.equal(ddsTopicName('/fwd/commands'), 'rt/fwd/commands');
});

for (const [name, { def, value }] of Object.entries(SAMPLES)) {
  test(`${def.rosName}: the TypeScript encoder writes Cyclone's bytes and decodes them back`, () => {
    const golden = vectors.get(name);
    assert.ok(golden !== undefined, `vector ${name} missing`);
    assert.equal(toHex(encodeMessage(def, value)), golden);
    const decoded = decodeMessage(def, Buffer.from(golden, 'hex'));
    assert.equal(toHex(encodeMessage(def, decoded)), golden);
  });
}

test('the JointState vector, written by hand: header, names, aligned float64 sequences', () => {
  const hex = vectors.get('joint_state')!;
  const b = Buffer.from(hex, 'hex');
  assert.deepEqual([...b.subarray(0, 4)], [0x00, 0x01, 0x00, 0x00]); // CDR little-endian, no padding at the end
  assert.equal(b.readInt32LE(4), 1700000000);
  assert.equal(b.readUInt32LE(8), 123456789);
  assert.equal(b.readUInt32LE(12), 10); // "base_link" + NUL
  const decoded = decodeMessage(JOINT_STATE, b);
  assert.deepEqual(decoded.name, ['shoulder', 'elbow', 'wrist']);
  assert.deepEqual(decoded.position, [0.5, -1.25, 3.0]);
  assert.deepEqual(decoded.effort, []);
});

test('malformed CDR is refused with STRIATUM_ERR_ROS2_CDR, never read past its end', () => {
  const good = Buffer.from(vectors.get('joint_state')!, 'hex');
  const cases: Uint8Array[] = [
    good.subarray(0, 3), // no header
    Buffer.concat([Buffer.from([0x00, 0x07, 0, 0]), good.subarray(4)]), // not CDR
    good.subarray(0, good.length - 9), // truncated
    (() => { const b = Buffer.from(good); b.writeUInt32LE(0xffffffff, 24); return b; })(), // absurd sequence length
    (() => { const b = Buffer.from(good); b[12 + 4 + 9] = 0x41; return b; })(), // string without NUL
    Buffer.concat([good, Buffer.alloc(16)]), // trailing bytes: not this type
  ];
  for (const bytes of cases) {
    assert.throws(() => decodeMessage(JOINT_STATE, bytes), (err) => isStriatumError(err, 'STRIATUM_ERR_ROS2_CDR'));
  }
});

test('a big-endian CDR payload decodes too', () => {
  const w = new CdrWriter();
  const le = encodeMessage(BOOL, { data: true }, w);
  const be = Buffer.from(le);
  be[1] = 0x00;
  assert.deepEqual(decodeMessage(BOOL, be), { data: true });
});

let dds: LoopbackDds | null = null;
before(() => { ensureRos2Bridge(); dds = loopbackDds(); });
after(() => dds?.cleanup());

test('the C golden tool (idlc types, Cyclone DDS) still writes the checked-in vectors', () => {
  const out = execFileSync(join(ROS2_BRIDGE_DIR, 'build', 'ros2_golden'), ['encode'], { env: dds!.env, encoding: 'utf8', timeout: 30_000 });
  assert.deepEqual(readVectors(out), vectors);
});

test('Cyclone DDS decodes every message TypeScript encodes into idlc types, and writes the same bytes back', () => {
  const lines = Object.entries(SAMPLES).map(([name, { def, value }]) => `${name} ${toHex(encodeMessage(def, value))}`);
  lines.push(`bool ${toHex(Buffer.from([0, 1, 0, 0, 7, 0, 0, 0]))}`); // a boolean that is 7
  const out = execFileSync(join(ROS2_BRIDGE_DIR, 'build', 'ros2_golden'), ['roundtrip'], {
    env: dds!.env, encoding: 'utf8', input: `${lines.join('\n')}\n`, timeout: 60_000,
  });
  const got = out.trim().split('\n');
  assert.deepEqual(got.slice(0, -1), lines.slice(0, -1));
  assert.equal(got.at(-1), 'bool REJECTED');
});
