import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isStriatumError, type StriatumError } from '../src/errors.js';
import { PrmMetadataSchema, checkTensorsForKind, parsePrmMetadata } from '../src/reward/metadata.js';

/** A valid progress model: one 224×224 float image, token ids, one progress value. */
function progressModel(): Record<string, any> {
  return {
    format: 'striatum.prm/v1',
    name: 'push-progress',
    version: '1',
    kind: 'progress',
    model: 'prm.onnx',
    inputs: [
      { name: 'pixels', role: 'image', shape: [-1, 3, 224, 224], dtype: 'float32' },
      { name: 'input_ids', role: 'text_ids', shape: [-1, 32], dtype: 'int64' },
    ],
    outputs: [{ name: 'progress', role: 'progress', shape: [-1, 1], dtype: 'float32' }],
    preprocessing: {
      resize: { width: 224, height: 224 }, layout: 'nchw', dtype: 'float32', scale: 1 / 255,
      mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225],
    },
    text: { tokenizer: 'tokenizer.json', max_length: 32 },
  };
}

/** The StriatumError a call throws (fails the test if it throws nothing or something else). */
function refusal(fn: () => unknown): StriatumError {
  try {
    fn();
  } catch (err) {
    assert.ok(isStriatumError(err) && (err.code === 'STRIATUM_ERR_PRM_METADATA' || err.code === 'STRIATUM_ERR_PRM_SHAPE'), String(err));
    return err;
  }
  assert.fail('expected the metadata to be refused');
}

test('a well-formed progress model is accepted, with defaults filled in', () => {
  const meta = parsePrmMetadata(progressModel(), 'prm.json');
  assert.equal(meta.kind, 'progress');
  assert.deepEqual(meta.frames, { window: 1, start_anchor: false });
  assert.equal(meta.preprocessing.channel_order, 'rgb');
  assert.equal(meta.preprocessing.crop, null);
});

test('a pairwise model with one image input is refused, naming that input', () => {
  const raw = progressModel();
  raw.kind = 'pairwise';
  raw.outputs = [{ name: 'delta', role: 'delta', shape: [-1, 1], dtype: 'float32' }];
  const err = refusal(() => parsePrmMetadata(raw, 'prm.json'));
  assert.ok(err.details.some((line) => line.includes("'pixels'") && line.includes('two image inputs')), err.details.join('\n'));
  raw.inputs.push({ name: 'pixels_b', role: 'image', shape: [-1, 3, 224, 224], dtype: 'float32' });
  assert.doesNotThrow(() => parsePrmMetadata(raw, 'prm.json'));
});

test('a progress model whose output has width 3 is refused, naming the output', () => {
  const raw = progressModel();
  raw.outputs = [{ name: 'progress', role: 'progress', shape: [-1, 3], dtype: 'float32' }];
  const err = refusal(() => parsePrmMetadata(raw, 'prm.json'));
  assert.ok(err.details.some((line) => line.includes("output 'progress'") && line.includes('width 3')), err.details.join('\n'));
});

test('an output that does not belong to the kind is refused, naming it', () => {
  const raw = progressModel();
  raw.outputs.push({ name: 'features', role: 'embedding', shape: [-1, 512], dtype: 'float32' });
  const err = refusal(() => parsePrmMetadata(raw, 'prm.json'));
  assert.ok(err.details.some((line) => line.includes("output 'features'")), err.details.join('\n'));
});

test('image tensors must match the preprocessing size, layout, dtype and frame window', () => {
  const raw = progressModel();
  raw.inputs[0].shape = [-1, 224, 224, 3]; // nhwc, but preprocessing says nchw
  let err = refusal(() => parsePrmMetadata(raw, 'prm.json'));
  assert.ok(err.details.some((line) => line.includes("input 'pixels'") && line.includes('channels')), err.details.join('\n'));
  raw.preprocessing.layout = 'nhwc';
  assert.doesNotThrow(() => parsePrmMetadata(raw, 'prm.json'));
  raw.frames = { window: 4 };
  err = refusal(() => parsePrmMetadata(raw, 'prm.json'));
  assert.ok(err.details.some((line) => line.includes("input 'pixels'")), err.details.join('\n'));
  raw.inputs[0].shape = [-1, 4, 224, 224, 3];
  assert.doesNotThrow(() => parsePrmMetadata(raw, 'prm.json'));
});

test('a start-frame anchor needs a start_image input', () => {
  const raw = progressModel();
  raw.frames = { start_anchor: true };
  const err = refusal(() => parsePrmMetadata(raw, 'prm.json'));
  assert.ok(err.details.some((line) => line.includes('start_image')), err.details.join('\n'));
  raw.inputs.push({ name: 'first_frame', role: 'start_image', shape: [-1, 3, 224, 224], dtype: 'float32' });
  assert.doesNotThrow(() => parsePrmMetadata(raw, 'prm.json'));
});

test('a uint8 image input cannot carry scale, mean or std', () => {
  const raw = progressModel();
  raw.preprocessing.dtype = 'uint8';
  raw.inputs[0].dtype = 'uint8';
  const err = refusal(() => parsePrmMetadata(raw, 'prm.json'));
  assert.deepEqual(err.details.map((l) => l.split(':')[0]), ['preprocessing.scale', 'preprocessing.mean', 'preprocessing.std']);
});

test('token ids need a tokenizer, and an embedding model takes no text input', () => {
  const raw = progressModel();
  raw.text = { goal_embedding: 'goal.bin' };
  let err = refusal(() => parsePrmMetadata(raw, 'prm.json'));
  assert.ok(err.details.some((line) => line.includes("input 'input_ids'")), err.details.join('\n'));
  raw.kind = 'embedding';
  raw.outputs = [{ name: 'image_embeds', role: 'embedding', shape: [-1, 512], dtype: 'float32' }];
  err = refusal(() => parsePrmMetadata(raw, 'prm.json'));
  assert.ok(err.details.some((line) => line.includes("input 'input_ids'") && line.includes('embedding model')), err.details.join('\n'));
  raw.inputs.pop();
  assert.doesNotThrow(() => parsePrmMetadata(raw, 'prm.json'));
});

test('schema problems name the field path', () => {
  const raw = progressModel();
  raw.kind = 'sequence';
  raw.text = { tokenizer: 'tokenizer.json' };
  const err = refusal(() => parsePrmMetadata(raw, 'prm.json'));
  const paths = err.details.map((l) => l.split(':')[0]);
  assert.ok(paths.includes('kind'), paths.join(', '));
  assert.ok(paths.includes('text.max_length'), paths.join(', '));
});

test('checkTensorsForKind refuses parsed metadata directly', () => {
  const meta = PrmMetadataSchema.parse({ ...progressModel(), kind: 'success' });
  const err = refusal(() => checkTensorsForKind(meta));
  assert.ok(err.details.some((line) => line.includes('role success')), err.details.join('\n'));
  assert.ok(err.details.some((line) => line.includes("output 'progress'")), err.details.join('\n'));
});
