// The golden vectors of firmware-bridge/vectors, shared with the C tests: every NAME.hex decodes to NAME.json and
// NAME.json encodes to exactly NAME.hex; every bad/NAME.hex is rejected with the reasons and counters it lists.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FrameDecoder, RX_DROPPED, RX_FRAME, RX_PENDING } from '../src/transports/serial/frame-decoder.js';
import { unpackFrame } from '../src/transports/serial/frame.js';
import { decodeMessage, encodeMessage, type SbpMessage } from '../src/transports/serial/messages.js';
import { SBP_MAX_FRAME, sbpTypeName } from '../src/transports/serial/protocol.js';
import { SbpError, type SbpCodeName } from '../src/transports/serial/sbp-error.js';

const VECTORS = fileURLToPath(new URL('../../firmware-bridge/vectors/', import.meta.url));
const BAD = join(VECTORS, 'bad');

const readHex = (path: string) => Uint8Array.from(Buffer.from(readFileSync(path, 'utf8').trim(), 'hex'));
const names = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.hex')).map((f) => f.slice(0, -4)).sort();

/** The vectors' JSON (snake_case, counts implied by array lengths) as an SbpMessage. */
function fromJson(j: Record<string, any>): SbpMessage {
  const seq = j.seq as number;
  switch (j.type) {
    case 'HELLO': return { type: 'HELLO', seq, protocolVersion: j.protocol_version, schemaHash: j.schema_hash };
    case 'HELLO_ACK': return {
      type: 'HELLO_ACK', seq, protocolVersion: j.protocol_version, schemaHash: j.schema_hash, firmwareId: j.firmware_id,
      limits: j.limits.map((l: any) => ({ posMin: l.pos_min, posMax: l.pos_max, velMax: l.vel_max, effortMax: l.effort_max })),
    };
    case 'COMMAND': return { type: 'COMMAND', seq, mode: j.mode, targets: j.targets };
    case 'STATE': return {
      type: 'STATE', seq, mcuTimeUs: BigInt(j.mcu_time_us), flags: j.flags, lastCommandSeq: j.last_command_seq,
      positions: j.positions, velocities: j.velocities, efforts: j.efforts,
    };
    case 'FAULT': return { type: 'FAULT', seq, code: j.code, text: j.text };
    case 'PARAM_GET': return { type: 'PARAM_GET', seq, id: j.id };
    case 'PARAM_SET': return { type: 'PARAM_SET', seq, id: j.id, value: j.value };
    case 'PARAM_VALUE': return { type: 'PARAM_VALUE', seq, id: j.id, value: j.value, result: j.result };
    case 'HEARTBEAT': case 'ESTOP': case 'ARM': return { type: j.type, seq };
    default: throw new Error(`unknown type in vector: ${j.type}`);
  }
}

test('the vector folders are there and complete', () => {
  const good = names(VECTORS);
  const bad = names(BAD);
  assert.ok(good.length >= 17, `found ${good.length} vectors`);
  assert.ok(bad.length >= 18, `found ${bad.length} bad vectors`);
  for (const n of good) readFileSync(join(VECTORS, `${n}.json`));
  for (const n of bad) readFileSync(join(BAD, `${n}.json`));
});

for (const name of names(VECTORS)) {
  test(`vector ${name}: decodes to its JSON and encodes back to the same bytes`, () => {
    const wire = readHex(join(VECTORS, `${name}.hex`));
    const want = fromJson(JSON.parse(readFileSync(join(VECTORS, `${name}.json`), 'utf8')));

    // Whole-frame path.
    const frame = unpackFrame(wire);
    assert.equal(sbpTypeName(frame.type), want.type);
    assert.deepEqual(decodeMessage(frame.type, frame.seq, frame.payload), want);

    // Streaming path, fed one byte at a time: exactly one frame, at the last byte.
    const dec = new FrameDecoder();
    for (let i = 0; i < wire.length; i++) {
      const rx = dec.pushByte(wire[i]);
      assert.equal(rx, i === wire.length - 1 ? RX_FRAME : RX_PENDING, `byte ${i}`);
    }
    assert.deepEqual(decodeMessage(dec.type, dec.seq, dec.body, dec.payloadOffset, dec.payloadLength), want);

    const out = new Uint8Array(SBP_MAX_FRAME);
    const n = encodeMessage(want, out);
    assert.equal(Buffer.from(out.subarray(0, n)).toString('hex'), Buffer.from(wire).toString('hex'));
  });
}

interface BadOutcome { frame_errors: SbpCodeName[]; message_errors: SbpCodeName[]; valid_messages: string[] }

function runStream(wire: Uint8Array, chunk: number): { outcome: BadOutcome; dec: FrameDecoder } {
  const dec = new FrameDecoder();
  const outcome: BadOutcome = { frame_errors: [], message_errors: [], valid_messages: [] };
  for (let at = 0; at < wire.length; at += chunk) {
    dec.feed(wire, at, Math.min(wire.length, at + chunk));
    for (let rx = dec.next(); rx !== RX_PENDING; rx = dec.next()) {
      if (rx === RX_DROPPED) {
        outcome.frame_errors.push(dec.errorName);
        assert.ok(dec.describeError().length > 0);
        continue;
      }
      try {
        const msg = decodeMessage(dec.type, dec.seq, dec.body, dec.payloadOffset, dec.payloadLength);
        outcome.valid_messages.push(msg.type);
      } catch (e) {
        assert.ok(e instanceof SbpError);
        outcome.message_errors.push(e.reason);
      }
    }
  }
  return { outcome, dec };
}

for (const name of names(BAD)) {
  test(`bad vector ${name}: rejected as documented, decoder stays in step`, () => {
    const wire = readHex(join(BAD, `${name}.hex`));
    const want = JSON.parse(readFileSync(join(BAD, `${name}.json`), 'utf8')) as BadOutcome;
    const whole = runStream(wire, wire.length);
    assert.deepEqual(whole.outcome, want);
    for (const chunk of [1, 3, 64]) assert.deepEqual(runStream(wire, chunk).outcome, want, `fed in runs of ${chunk}`);

    // Every drop is counted once in one error counter and in resyncs.
    const s = whole.dec.stats;
    const count = (r: SbpCodeName) => want.frame_errors.filter((e) => e === r).length;
    assert.equal(s.crcErrors, count('crc'));
    assert.equal(s.oversize, count('oversize'));
    assert.equal(s.versionErrors, count('version'));
    assert.equal(s.malformed, count('cobs') + count('short'));
    assert.equal(s.resyncs, want.frame_errors.length);
    assert.equal(s.frames, want.valid_messages.length + want.message_errors.length);

    // A single bad frame gives the same reason through the whole-frame path.
    if (want.frame_errors.length === 1 && wire.indexOf(0) === wire.length - 1) {
      assert.throws(() => unpackFrame(wire), (e: SbpError) => e.reason === want.frame_errors[0]);
    }
  });
}
