// Message payloads against bytes written out by hand (never only against our own encoder), the hot-path
// encoder/decoder against the general ones, and decode errors with their codes and numbers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc32c } from '../src/transports/serial/crc32c.js';
import { unpackFrame } from '../src/transports/serial/frame.js';
import { decodeMessage, decodeStateInto, encodeCommand, encodeEmpty, encodeMessage, SbpState, type SbpMessage } from '../src/transports/serial/messages.js';
import { PayloadReader } from '../src/transports/serial/payload-reader.js';
import { SBP_ARM, SBP_COMMAND, SBP_ESTOP, SBP_MAX_FRAME, SBP_STATE, sbpWireSizeMax } from '../src/transports/serial/protocol.js';
import { SBP_ERR_LENGTH, SBP_ERR_RANGE, SBP_OK, SbpError } from '../src/transports/serial/sbp-error.js';

// ---- tiny byte helpers ----------------------------------------------------------------------------------
const u16 = (v: number) => [v & 0xff, (v >>> 8) & 0xff];
const u32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const u64 = (v: bigint) => [...u32(Number(v & 0xffffffffn)), ...u32(Number(v >> 32n))];
const f32 = (v: number) => { const b = Buffer.alloc(4); b.writeFloatLE(v); return [...b]; };
const utf8 = (s: string) => [...Buffer.from(s, 'utf8')];

/** Reference COBS, written plainly: split at zeros, cut runs at 254. */
function refCobs(body: number[]): number[] {
  const out: number[] = [];
  let block: number[] = [];
  for (const b of body) {
    if (b === 0) { out.push(block.length + 1, ...block); block = []; } else {
      block.push(b);
      if (block.length === 254) { out.push(0xff, ...block); block = []; }
    }
  }
  out.push(block.length + 1, ...block);
  return out;
}

/** A frame on the wire, by hand: version 1, type, seq, payload, CRC-32C, COBS, 0x00. */
function frame(type: number, seq: number, payload: number[]): string {
  const body = [1, type, ...u16(seq), ...payload];
  const withCrc = [...body, ...u32(crc32c(Uint8Array.from(body)))];
  return Buffer.from([...refCobs(withCrc), 0]).toString('hex');
}

function encoded(msg: SbpMessage): string {
  const wire = new Uint8Array(SBP_MAX_FRAME);
  return Buffer.from(wire.subarray(0, encodeMessage(msg, wire))).toString('hex');
}

const roundTrip = (hex: string) => {
  const f = unpackFrame(Uint8Array.from(Buffer.from(hex, 'hex')));
  return decodeMessage(f.type, f.seq, f.payload);
};

test('text is UTF-8 on the wire: the length byte counts bytes', () => {
  const hex = frame(0x22, 1, [...u16(0x8001), 11, ...utf8('Motor μ≥')]);
  assert.equal(encoded({ type: 'FAULT', seq: 1, code: 0x8001, text: 'Motor μ≥' }), hex);
  assert.deepEqual(roundTrip(hex), { type: 'FAULT', seq: 1, code: 0x8001, text: 'Motor μ≥' });
});

test('every message type encodes to the bytes written by hand and decodes back', () => {
  const cases: [SbpMessage, string][] = [
    [{ type: 'HELLO', seq: 1, protocolVersion: 1, schemaHash: 0x9ad5ef69 }, frame(0x01, 1, [1, ...u32(0x9ad5ef69)])],
    [{ type: 'HELLO_ACK', seq: 2, protocolVersion: 1, schemaHash: 0x01020304, limits: [{ posMin: -1, posMax: 1, velMax: 2, effortMax: 3 }], firmwareId: 'mcu' },
      frame(0x02, 2, [1, ...u32(0x01020304), 1, ...f32(-1), ...f32(1), ...f32(2), ...f32(3), 3, ...utf8('mcu')])],
    [{ type: 'HEARTBEAT', seq: 3 }, frame(0x03, 3, [])],
    [{ type: 'COMMAND', seq: 0x1234, mode: 1, targets: [0.5, -0.25, 0] }, frame(0x10, 0x1234, [1, 3, ...f32(0.5), ...f32(-0.25), ...f32(0)])],
    [{ type: 'STATE', seq: 65535, mcuTimeUs: 0x1_0000_0002n, flags: 0x61, lastCommandSeq: 9, positions: [1], velocities: [-2], efforts: [0.5] },
      frame(0x11, 65535, [...u64(0x1_0000_0002n), ...u16(0x61), ...u16(9), 1, ...f32(1), ...f32(-2), ...f32(0.5)])],
    [{ type: 'ESTOP', seq: 4 }, frame(0x20, 4, [])],
    [{ type: 'ARM', seq: 5 }, frame(0x21, 5, [])],
    [{ type: 'FAULT', seq: 6, code: 0x8001, text: 'hot' }, frame(0x22, 6, [...u16(0x8001), 3, ...utf8('hot')])],
    [{ type: 'PARAM_GET', seq: 7, id: 1 }, frame(0x30, 7, [...u16(1)])],
    [{ type: 'PARAM_SET', seq: 8, id: 3, value: 12.5 }, frame(0x31, 8, [...u16(3), ...f32(12.5)])],
    [{ type: 'PARAM_VALUE', seq: 9, id: 4, value: 1, result: 3 }, frame(0x32, 9, [...u16(4), ...f32(1), 3])],
  ];
  for (const [msg, hex] of cases) {
    assert.equal(encoded(msg), hex, msg.type);
    assert.deepEqual(roundTrip(hex), msg, msg.type);
  }
});

test('encodeCommand (hot path) writes the same bytes as encodeMessage; f64 targets round to f32', () => {
  const targets = Float64Array.of(0.1, -3.3, 1e-3, 0, 0, 0, 0);
  const wire = new Uint8Array(sbpWireSizeMax(2 + 4 * 4) + 3);
  const n = encodeCommand(513, 2, targets, 4, wire, 3);
  const hex = Buffer.from(wire.subarray(3, 3 + n)).toString('hex');
  assert.equal(hex, frame(SBP_COMMAND, 513, [2, 4, ...f32(0.1), ...f32(-3.3), ...f32(1e-3), ...f32(0)]));
  assert.equal(hex, encoded({ type: 'COMMAND', seq: 513, mode: 2, targets: [0.1, -3.3, 1e-3, 0] }));
  const back = roundTrip(hex) as Extract<SbpMessage, { type: 'COMMAND' }>;
  assert.equal(back.targets[0], Math.fround(0.1));
  const empty = new Uint8Array(16);
  for (const type of [SBP_ESTOP, SBP_ARM]) {
    const m = encodeEmpty(type, 77, empty, 0);
    assert.equal(Buffer.from(empty.subarray(0, m)).toString('hex'), frame(type, 77, []));
  }
});

test('decodeStateInto (hot path) fills the preallocated state like decodeMessage', () => {
  const payload = Uint8Array.from([...u64(5_000_000_123n), ...u16(0x25), ...u16(300), 2, ...f32(1.5), ...f32(-1), ...f32(0.25), ...f32(4), ...f32(-8), ...f32(16)]);
  const state = new SbpState();
  const reader = new PayloadReader();
  assert.equal(decodeStateInto(reader, payload, 0, payload.length, state), SBP_OK);
  assert.equal(state.mcuTimeUs, 5_000_000_123);
  assert.equal(state.flags, 0x25);
  assert.equal(state.lastCommandSeq, 300);
  assert.equal(state.jointCount, 2);
  assert.deepEqual([...state.positions.subarray(0, 2)], [1.5, -1]);
  assert.deepEqual([...state.velocities.subarray(0, 2)], [0.25, 4]);
  assert.deepEqual([...state.efforts.subarray(0, 2)], [-8, 16]);
  const msg = decodeMessage(SBP_STATE, 0, payload) as Extract<SbpMessage, { type: 'STATE' }>;
  assert.equal(Number(msg.mcuTimeUs), state.mcuTimeUs);
  assert.deepEqual(msg.efforts, [-8, 16]);

  // At an offset inside a bigger buffer, as in the frame decoder's body.
  const padded = Uint8Array.from([9, 9, 9, 9, ...payload]);
  assert.equal(decodeStateInto(reader, padded, 4, payload.length, state), SBP_OK);
  assert.equal(state.lastCommandSeq, 300);

  // Short: the error names the field and the numbers; no exception on the hot path.
  assert.equal(decodeStateInto(reader, payload, 0, payload.length - 4, state), SBP_ERR_LENGTH);
  assert.equal(reader.describe('STATE'), 'STATE: efforts needs 8 bytes at offset 29, 4 left');
  const tooMany = Uint8Array.from([...payload.subarray(0, 12), 17]);
  assert.equal(decodeStateInto(reader, tooMany, 0, tooMany.length, state), SBP_ERR_RANGE);
  assert.equal(reader.describe('STATE'), 'STATE: joint_count 17 is out of range (maximum 16)');
});

test('decode errors carry the C code name and exact numbers', () => {
  const reason = (type: number, payload: number[]) => {
    try { decodeMessage(type, 0, Uint8Array.from(payload)); return 'ok'; } catch (e) { return `${(e as SbpError).reason}: ${(e as SbpError).message}`; }
  };
  assert.equal(reason(0x03, [0]), 'length: HEARTBEAT payload of 1 bytes: 1 bytes left over after the last field at offset 0');
  assert.equal(reason(0x10, [3, 1, ...f32(0)]), 'range: COMMAND payload of 6 bytes: mode 3 is out of range (maximum 2)');
  assert.equal(reason(0x10, [0, 2, ...f32(0)]), 'length: COMMAND payload of 6 bytes: targets needs 8 bytes at offset 2, 4 left');
  assert.equal(reason(0x32, [...u16(1), ...f32(0), 4]), 'range: PARAM_VALUE payload of 7 bytes: result 4 is out of range (maximum 3)');
  assert.equal(reason(0x22, [...u16(1), 49, ...new Array(49).fill(65)]), 'range: FAULT payload of 52 bytes: text_len 49 is out of range (maximum 48)');
  assert.equal(reason(0x7f, []), 'type: type 0x7f payload of 0 bytes: unknown message type 0x7F');
  assert.throws(() => decodeMessage(0x10, 0, Uint8Array.from([0])), (e: SbpError) => e.code === 'STRIATUM_ERR_SERIAL_SCHEMA');
});

test('encoding refuses counts above the maxima instead of writing past them', () => {
  const wire = new Uint8Array(SBP_MAX_FRAME);
  const refuse = (msg: SbpMessage) => assert.throws(() => encodeMessage(msg, wire), (e: SbpError) => e.reason === 'argument');
  refuse({ type: 'COMMAND', seq: 0, mode: 0, targets: new Array(17).fill(0) });
  refuse({ type: 'FAULT', seq: 0, code: 1, text: 'x'.repeat(49) });
  refuse({ type: 'FAULT', seq: 0, code: 1, text: 'π'.repeat(25) }); // 25 characters, 50 bytes of UTF-8
  refuse({ type: 'HELLO_ACK', seq: 0, protocolVersion: 1, schemaHash: 0, limits: [], firmwareId: 'y'.repeat(33) });
  refuse({ type: 'STATE', seq: 0, mcuTimeUs: 0n, flags: 0, lastCommandSeq: 0, positions: [1], velocities: [], efforts: [1] });
  assert.throws(() => encodeMessage({ type: 'HEARTBEAT', seq: 0 }, new Uint8Array(9)), (e: SbpError) => e.reason === 'buffer');
});
