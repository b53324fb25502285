import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CdrWriter, encodeCompressedImage, encodeFloat64MultiArray, encodeImage, encodeJointState } from '../src/dataset/cdr.js';

// Golden vectors of the ROS 2 work (ros2-bridge/vectors/messages.txt): the bytes Cyclone DDS's own serializer
// produced for these messages, copied here so the recording's CDR is checked against DDS, not against itself.
const GOLDEN = {
  joint_state: '0001000000f1536515cd5b070a000000626173655f6c696e6b000000030000000900000073686f756c6465720000000006000000656c626f7700000006000000777269737400000003000000000000000000e03f000000000000f4bf000000000000084003000000000000009a9999999999b93f9a9999999999c93f333333333333d3bf00000000',
  float64_multi_array: '0001000001000000070000006a6f696e7473000002000000020000000000000002000000000000000000d03f000000000000e0bf',
  image: '0001000201000000020000000700000063616d657261000002000000030000000500000072676238000000000900000012000000000102030405060708090a0b0c0d0e0f10110000',
  compressed_image: '0001000001000000020000000700000063616d6572610000050000006a7065670000000004000000ffd8ffd9',
};

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('cdr: JointState, Float64MultiArray, Image and CompressedImage are byte-identical to Cyclone DDS', () => {
  const w = new CdrWriter(16); // small, so the buffer grows on the way
  const position = [0.5, -1.25, 3];
  const velocity = [0.1, 0.2, -0.3];
  assert.equal(hex(encodeJointState(w, 1_700_000_000_123_456_789n, 'base_link', ['shoulder', 'elbow', 'wrist'],
    { values: position, from: 0, count: 3 }, { values: [9, ...velocity], from: 1, count: 3 })), GOLDEN.joint_state);
  assert.equal(hex(encodeFloat64MultiArray(w, 'joints', [0.25, -0.5])), GOLDEN.float64_multi_array);
  assert.equal(hex(encodeImage(w, 1_000_000_002n, 'camera', 2, 3, 'rgb8', 9, Uint8Array.from({ length: 18 }, (_, i) => i))), GOLDEN.image);
  assert.equal(hex(encodeCompressedImage(w, 1_000_000_002n, 'camera', 'jpeg', Uint8Array.from([0xff, 0xd8, 0xff, 0xd9]))), GOLDEN.compressed_image);
  // finish() returns a copy: the next message does not change the last one.
  const a = encodeFloat64MultiArray(w, 'joints', [1]);
  encodeFloat64MultiArray(w, 'joints', [2]);
  assert.equal(new DataView(a.buffer).getFloat64(a.length - 8, true), 1);
});
