// Property tests of the codec: random messages round-trip; corrupted streams (bit flips, dropped, inserted
// bytes, truncation) never deliver a frame that was not sent; and a seeded run of over a million corrupted
// frames counting corruptions that got through (must be 0). Pure codec, no I/O.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FrameDecoder, RX_DROPPED, RX_FRAME, RX_PENDING } from '../src/transports/serial/frame-decoder.js';
import { unpackFrame } from '../src/transports/serial/frame.js';
import { decodeMessage, encodeMessage, type SbpJointLimits, type SbpMessage } from '../src/transports/serial/messages.js';
import { SBP_MAX_FRAME, SBP_MAX_JOINTS } from '../src/transports/serial/protocol.js';
import { sbpCodeName } from '../src/transports/serial/sbp-error.js';

// ---- arbitraries ----------------------------------------------------------------------------------------
const seq = fc.integer({ min: 0, max: 0xffff });
const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const f32 = fc.float(); // binary32 values, NaN, ±0 and ±Infinity included
const f32s = (max: number) => fc.array(f32, { maxLength: max });
/** Text fields are UTF-8 with a byte limit: any Unicode string whose encoding fits. */
const utf8Text = (max: number) => fc.string({ unit: 'grapheme', maxLength: max }).filter((s) => Buffer.byteLength(s, 'utf8') <= max);
// Plain objects (fast-check builds null-prototype ones by default), so deepEqual compares like with like.
const rec = <T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }) => fc.record(model, { noNullPrototype: true }) as fc.Arbitrary<T>;
const limits: fc.Arbitrary<SbpJointLimits> = rec({ posMin: f32, posMax: f32, velMax: f32, effortMax: f32 });

const message: fc.Arbitrary<SbpMessage> = fc.oneof(
  rec({ type: fc.constant('HELLO' as const), seq, protocolVersion: u8, schemaHash: u32 }),
  rec({ type: fc.constant('HELLO_ACK' as const), seq, protocolVersion: u8, schemaHash: u32, limits: fc.array(limits, { maxLength: SBP_MAX_JOINTS }), firmwareId: utf8Text(32) }),
  rec({ type: fc.constantFrom('HEARTBEAT' as const, 'ESTOP' as const, 'ARM' as const), seq }),
  rec({ type: fc.constant('COMMAND' as const), seq, mode: fc.integer({ min: 0, max: 2 }), targets: f32s(SBP_MAX_JOINTS) }),
  fc.integer({ min: 0, max: SBP_MAX_JOINTS }).chain((n) => rec({
    type: fc.constant('STATE' as const), seq, mcuTimeUs: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), flags: u16, lastCommandSeq: u16,
    positions: fc.array(f32, { minLength: n, maxLength: n }), velocities: fc.array(f32, { minLength: n, maxLength: n }), efforts: fc.array(f32, { minLength: n, maxLength: n }),
  })),
  rec({ type: fc.constant('FAULT' as const), seq, code: u16, text: utf8Text(48) }),
  rec({ type: fc.constant('PARAM_GET' as const), seq, id: u16 }),
  rec({ type: fc.constant('PARAM_SET' as const), seq, id: u16, value: f32 }),
  rec({ type: fc.constant('PARAM_VALUE' as const), seq, id: u16, value: f32, result: fc.integer({ min: 0, max: 3 }) }),
);

function wireOf(msg: SbpMessage): Uint8Array {
  const wire = new Uint8Array(SBP_MAX_FRAME);
  return wire.slice(0, encodeMessage(msg, wire));
}

/** Frames a decoder delivers from a stream fed in runs of `chunk`: as "type:seq:payload-hex", and drops by name. */
function deliver(stream: Uint8Array, chunk: number): { frames: string[]; drops: string[]; stats: FrameDecoder['stats'] } {
  const dec = new FrameDecoder();
  const frames: string[] = [];
  const drops: string[] = [];
  for (let at = 0; at < stream.length; at += chunk) {
    dec.feed(stream, at, Math.min(stream.length, at + chunk));
    for (let rx = dec.next(); rx !== RX_PENDING; rx = dec.next()) {
      if (rx === RX_FRAME) frames.push(`${dec.type}:${dec.seq}:${Buffer.from(dec.body.subarray(dec.payloadOffset, dec.payloadOffset + dec.payloadLength)).toString('hex')}`);
      else drops.push(dec.errorName);
    }
  }
  return { frames, drops, stats: dec.stats };
}

const concat = (parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));

test('random messages round-trip through encode, whole-frame and streaming decode', () => {
  fc.assert(fc.property(message, (msg) => {
    const wire = wireOf(msg);
    const f = unpackFrame(wire);
    assert.deepEqual(decodeMessage(f.type, f.seq, f.payload), msg);
    const { frames } = deliver(wire, 1);
    assert.equal(frames.length, 1);
    const reencoded = wireOf(decodeMessage(f.type, f.seq, f.payload));
    assert.deepEqual(reencoded, wire);
  }), { numRuns: 2000 });
});

test('streaming: byte by byte, in random runs and whole give the same frames, drops and counters', () => {
  const piece = fc.oneof(message.map(wireOf), fc.uint8Array({ maxLength: 400 }));
  fc.assert(fc.property(fc.array(piece, { maxLength: 12 }), fc.integer({ min: 2, max: 97 }), (pieces, chunk) => {
    const stream = concat(pieces);
    const whole = deliver(stream, Math.max(1, stream.length));
    assert.deepEqual(deliver(stream, 1), whole);
    assert.deepEqual(deliver(stream, chunk), whole);
  }), { numRuns: 500 });
});

test('streaming: garbage between frames costs no frame that follows a delimiter', () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.uint8Array({ maxLength: 700 }), message), { minLength: 1, maxLength: 8 }), (pairs) => {
    // Garbage, then a delimiter, then the frame: the frame must come through whatever the garbage was.
    const stream = concat(pairs.flatMap(([garbage, msg]) => [garbage, Uint8Array.of(0), wireOf(msg)]));
    const got = deliver(stream, 17).frames;
    const sent = pairs.map(([, msg]) => { const f = unpackFrame(wireOf(msg)); return `${f.type}:${f.seq}:${Buffer.from(f.payload).toString('hex')}`; });
    // Garbage can itself form a frame only with a matching CRC-32C; the sent frames are all there, in order.
    let i = 0;
    for (const g of got) if (g === sent[i]) i++;
    assert.equal(i, sent.length);
  }), { numRuns: 300 });
});

test('streaming: oversized input is dropped as it arrives and the decoder is in step right after', () => {
  const dec = new FrameDecoder();
  const noise = new Uint8Array(100_000).fill(0x41);
  const hb = wireOf({ type: 'HEARTBEAT', seq: 9 });
  dec.feed(noise);
  assert.equal(dec.next(), RX_PENDING); // nothing buffered past the maximum, nothing reported before the delimiter
  dec.feed(concat([Uint8Array.of(0), hb]));
  assert.equal(dec.next(), RX_DROPPED);
  assert.equal(dec.errorName, 'oversize');
  assert.equal(dec.describeError(), 'frame longer than the maximum: decoded body passes 303 bytes at encoded byte 305');
  assert.equal(dec.next(), RX_FRAME);
  assert.equal(dec.seq, 9);
  assert.equal(dec.next(), RX_PENDING);
  assert.deepEqual(dec.stats, { frames: 1, crcErrors: 0, malformed: 0, oversize: 1, versionErrors: 0, resyncs: 1 });
});

/** Subsequence test: every delivered frame is a sent one, in the order sent. */
function onlySentFrames(sent: string[], got: string[]): boolean {
  let i = 0;
  for (const g of got) {
    while (i < sent.length && sent[i] !== g) i++;
    if (i === sent.length) return false;
    i++;
  }
  return true;
}

const corruption = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('drop' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), byte: u8 }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);

test('corrupted streams (bit flips, dropped and inserted bytes, truncation) never deliver a frame that was not sent', () => {
  fc.assert(fc.property(fc.array(message, { minLength: 1, maxLength: 6 }), fc.array(corruption, { minLength: 1, maxLength: 6 }), (msgs, edits) => {
    const bytes = [...concat(msgs.map(wireOf))];
    for (const e of edits) {
      if (bytes.length === 0) break;
      const at = e.at % bytes.length;
      if (e.kind === 'flip') bytes[at] ^= 1 << e.bit;
      else if (e.kind === 'drop') bytes.splice(at, 1);
      else if (e.kind === 'insert') bytes.splice(at, 0, e.byte);
      else bytes.length = at;
    }
    const sent = deliver(concat(msgs.map(wireOf)), 1 << 20).frames;
    const got = deliver(Uint8Array.from(bytes), 7).frames;
    assert.ok(onlySentFrames(sent, got), `delivered ${JSON.stringify(got)} of sent ${JSON.stringify(sent)}`);
  }), { numRuns: 3000 });
});

// ---- a million corrupted frames -------------------------------------------------------------------------

/** xorshift32: a fixed seed makes the run the same every time. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s;
  };
}

test('bit-flip run: over 10^6 corrupted frames, none gets through undetected', (t) => {
  const FRAMES = 1_000_000;
  const next = rng(0x5eed5bd1);
  const rand = (n: number) => next() % n;
  const f = () => (rand(2001) - 1000) / 64;
  // A pool of real frames: 6-joint STATE and COMMAND (the traffic of a running robot), and the other types.
  const pool: Uint8Array[] = [];
  for (let i = 0; i < 48; i++) {
    const six = () => [f(), f(), f(), f(), f(), f()];
    pool.push(wireOf({ type: 'STATE', seq: rand(65536), mcuTimeUs: BigInt(next()) * 977n, flags: rand(256), lastCommandSeq: rand(65536), positions: six(), velocities: six(), efforts: six() }));
    pool.push(wireOf({ type: 'COMMAND', seq: rand(65536), mode: rand(3), targets: six() }));
  }
  for (const name of ['HELLO', 'HEARTBEAT', 'ESTOP', 'ARM', 'PARAM_SET'] as const) {
    const base = { seq: rand(65536) };
    if (name === 'HELLO') pool.push(wireOf({ type: name, ...base, protocolVersion: 1, schemaHash: next() }));
    else if (name === 'PARAM_SET') pool.push(wireOf({ type: name, ...base, id: 1, value: 25 }));
    else pool.push(wireOf({ type: name, ...base }));
  }
  pool.push(wireOf({ type: 'HELLO_ACK', seq: 1, protocolVersion: 1, schemaHash: next(), limits: Array.from({ length: 16 }, () => ({ posMin: f(), posMax: f(), velMax: f(), effortMax: f() })), firmwareId: 'x'.repeat(32) }));
  pool.push(wireOf({ type: 'FAULT', seq: 2, code: 1, text: 'no COMMAND for 20 ms' }));

  const dec = new FrameDecoder();
  const buf = new Uint8Array(SBP_MAX_FRAME + 1);
  const byReason: Record<string, number> = {};
  let undetected = 0;
  let delivered = 0;
  let bitsFlipped = 0;
  const t0 = performance.now();
  for (let i = 0; i < FRAMES; i++) {
    const src = pool[rand(pool.length)];
    const n = src.length;
    buf.set(src);
    buf[n] = 0; // a guard delimiter: a flip that hits the frame's own 0x00 must not swallow the next frame
    const bits = n * 8;
    // Half single or scattered flips (1..8 bits anywhere, delimiter included), half bursts of 2..64 bits.
    if (i & 1) {
      const k = 1 + rand(8);
      for (let j = 0; j < k; j++) { const b = rand(bits); buf[b >>> 3] ^= 1 << (b & 7); }
      bitsFlipped += k;
    } else {
      const len = 2 + rand(63);
      const start = rand(bits);
      for (let b = start; b < start + len && b < bits; b++) if (rand(2) === 1 || b === start) { buf[b >>> 3] ^= 1 << (b & 7); bitsFlipped++; }
    }
    let same = true;
    for (let j = 0; j < n; j++) if (buf[j] !== src[j]) { same = false; break; }
    if (same) continue; // flips that cancelled out: not a corrupted frame
    dec.feed(buf, 0, n + 1);
    for (let rx = dec.next(); rx !== RX_PENDING; rx = dec.next()) {
      if (rx === RX_DROPPED) { const r = sbpCodeName(dec.error); byReason[r] = (byReason[r] ?? 0) + 1; continue; }
      delivered++;
      // A delivered frame must be the one sent, byte for byte (its body, re-sealed, gives back src).
      const msgOk = (() => {
        try {
          const wire = wireOf(decodeMessage(dec.type, dec.seq, dec.body, dec.payloadOffset, dec.payloadLength));
          return wire.length === n && wire.every((b, j) => b === src[j]);
        } catch { return false; }
      })();
      if (!msgOk) undetected++;
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const report = { corrupted_frames: FRAMES, bits_flipped: bitsFlipped, delivered, undetected, dropped_by_reason: byReason, decoder_resyncs: dec.stats.resyncs, seconds: Math.round(seconds * 100) / 100 };
  t.diagnostic(`bit-flip run: ${JSON.stringify(report)}`);
  console.log(JSON.stringify({ bit_flip_run: report }));
  assert.equal(undetected, 0);
  assert.equal(delivered, 0, 'every corrupted frame was dropped');
});
