// The shared frame ring: newest frame wins, a held slot is never rewritten, a dead reader is cleaned up, the
// start slot keeps each episode's first frame, and a worker thread reads what the main thread wrote.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { EpisodeFrames } from '../src/reward/prm/episode-frames.js';
import { FrameRing } from '../src/reward/prm/frame-ring.js';

const px = (v: number) => new Uint8Array(2 * 1 * 3).fill(v);

test('a reader gets the newest frame; the same stamp is not written twice', () => {
  const ring = FrameRing.create('top', 2, 1, 1);
  assert.equal(ring.acquireLatest(0), -1);
  assert.equal(ring.write(px(1), 100, 1), true);
  assert.equal(ring.write(px(1), 100, 1), false);
  assert.equal(ring.write(px(2), 200, 1), true);
  const s = ring.acquireLatest(0);
  assert.equal(ring.pixelsOf(s)[0], 2);
  assert.equal(ring.stampOf(s), 200);
  assert.equal(ring.seqOf(s), 2);
  assert.equal(ring.episodeOf(s), 1);
  ring.release(0, s);
  assert.equal(ring.framesWritten, 2);
});

test('a slot a reader holds is never overwritten; the writer uses the others', () => {
  const ring = FrameRing.create('top', 2, 1, 1); // 3 slots
  ring.write(px(1), 1, 1);
  const held = ring.acquireLatest(0);
  for (let v = 2; v < 10; v++) assert.equal(ring.write(px(v), v, 1), true);
  assert.equal(ring.pixelsOf(held)[0], 1, 'held frame intact');
  assert.equal(ring.stampOf(held), 1);
  ring.release(0, held);
  const s = ring.acquireLatest(0);
  assert.equal(ring.pixelsOf(s)[0], 9);
  ring.release(0, s);
  assert.equal(ring.framesDropped, 0);
});

test('two readers may hold the same slot; a dead reader\'s bit is cleared by releaseAll', () => {
  const ring = FrameRing.create('top', 2, 1, 1); // 3 slots: room for one reader
  ring.write(px(1), 1, 1); // slot 0
  const a = ring.acquireLatest(0);
  const b = ring.acquireLatest(5);
  assert.equal(a, b, 'both readers hold the newest slot');
  ring.release(5, b);
  ring.write(px(2), 2, 1); // slot 1
  const c = ring.acquireLatest(5); // a second reader on a ring sized for one
  ring.write(px(3), 3, 1); // slot 2, now the latest
  // Slot 0 held by reader 0, slot 1 by reader 5, slot 2 is the latest: no slot left, the frame is dropped.
  assert.equal(ring.write(px(4), 4, 1), false);
  assert.equal(ring.framesDropped, 1);
  ring.releaseAll(0); // reader 0 died holding slot 0
  assert.equal(ring.write(px(5), 5, 1), true);
  ring.release(5, c);
  const d = ring.acquireLatest(0);
  assert.equal(ring.pixelsOf(d)[0], 5);
  ring.release(0, d);
});

test('the start slot keeps the first frame of each episode', () => {
  const ring = FrameRing.create('top', 2, 1, 1);
  ring.write(px(1), 1, 1);
  ring.write(px(2), 2, 1);
  let s = ring.acquireStart(0, 1);
  assert.equal(ring.pixelsOf(s)[0], 1);
  ring.release(0, s);
  assert.equal(ring.acquireStart(0, 2), -1, 'no frame of episode 2 yet');
  ring.write(px(3), 3, 2);
  ring.write(px(4), 4, 2);
  s = ring.acquireStart(0, 2);
  assert.equal(ring.pixelsOf(s)[0], 3);
  assert.equal(ring.stampOf(s), 3);
  ring.release(0, s);
});

test('a worker thread reads the newest frame the main thread wrote, through the shared buffer', async () => {
  const ring = FrameRing.create('top', 2, 1, 1);
  ring.write(px(7), 70, 3);
  const moduleUrl = new URL('../src/reward/prm/frame-ring.js', import.meta.url).href;
  const code = `
    import { parentPort, workerData } from 'node:worker_threads';
    import { FrameRing } from ${JSON.stringify(moduleUrl)};
    const ring = new FrameRing(workerData);
    parentPort.on('message', () => {
      const s = ring.acquireLatest(0);
      parentPort.postMessage([ring.pixelsOf(s)[0], ring.stampOf(s), ring.episodeOf(s)]);
      ring.release(0, s);
    });
    parentPort.postMessage('ready');
  `;
  const w = new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`), { workerData: ring.descriptor });
  const next = () => new Promise<unknown>((resolve) => w.once('message', resolve));
  assert.equal(await next(), 'ready');
  w.postMessage('read');
  assert.deepEqual(await next(), [7, 70, 3]);
  ring.write(px(8), 80, 4);
  w.postMessage('read');
  assert.deepEqual(await next(), [8, 80, 4]);
  await w.terminate();
});

test('episode frames keep an even record of the whole episode when it outgrows its capacity', () => {
  const rec = new EpisodeFrames(4, [1]);
  rec.reset(1);
  const kept = () => Array.from({ length: rec.count }, (_, k) => rec.frame(k, 0)[0]);
  for (let u = 0; u < 4; u++) rec.record([Uint8Array.of(u)]);
  assert.deepEqual(kept(), [0, 1, 2, 3]);
  for (let u = 4; u < 13; u++) rec.record([Uint8Array.of(u)]);
  // Full at update 4: keep 0, 2, then every 2nd (4, 6); full at 8: keep 0, 4, then every 4th (8, 12).
  assert.deepEqual(kept(), [0, 4, 8, 12]);
  rec.reset(2);
  assert.equal(rec.count, 0);
  assert.equal(rec.episode, 2);
});

test('a start frame kept out by a reader holding the start slot goes in with writeStart once it is released', () => {
  const ring = FrameRing.create('top', 2, 1, 1);
  ring.write(px(1), 1, 1);
  const held = ring.acquireStart(0, 1);
  assert.ok(held >= 0);
  assert.equal(ring.write(px(2), 2, 2), true, 'the frame itself is written');
  assert.equal(ring.startEpisode, 1, 'but not into the held start slot');
  assert.equal(ring.writeStart(px(2), 2, 2), false, 'still held');
  ring.release(0, held);
  assert.equal(ring.writeStart(px(2), 2, 2), true);
  assert.equal(ring.startEpisode, 2);
  const s = ring.acquireStart(0, 2);
  assert.equal(ring.pixelsOf(s)[0], 2);
  assert.equal(ring.stampOf(s), 2);
  ring.release(0, s);
});
