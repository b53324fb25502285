// The channels the Foxglove live view advertises, with their JSON schemas. Camera images use Foxglove's own
// foxglove.CompressedImage; the robot's own messages have schemas named striatum.*.

const time = { type: 'object', properties: { sec: { type: 'integer' }, nsec: { type: 'integer' } }, required: ['sec', 'nsec'] };
// Non-finite values (no PRM answer yet, a missing joint field) are sent as null.
const number = { type: ['number', 'null'] };
const numbers = { type: 'array', items: number };
const names = { type: 'array', items: { type: 'string' } };

/** foxglove.CompressedImage (https://docs.foxglove.dev/docs/visualization/message-schemas/compressed-image), JSON encoding. */
export const COMPRESSED_IMAGE_SCHEMA = {
  title: 'foxglove.CompressedImage',
  type: 'object',
  properties: {
    timestamp: time,
    frame_id: { type: 'string' },
    data: { type: 'string', contentEncoding: 'base64' },
    format: { type: 'string' },
  },
  required: ['timestamp', 'frame_id', 'data', 'format'],
};

export const JOINT_STATE_SCHEMA = {
  title: 'striatum.JointState',
  type: 'object',
  properties: { timestamp: time, name: names, position: numbers, velocity: numbers, effort: numbers },
  required: ['timestamp', 'name', 'position', 'velocity', 'effort'],
};

export const JOINT_COMMAND_SCHEMA = {
  title: 'striatum.JointCommand',
  type: 'object',
  properties: { timestamp: time, name: names, mode: { type: 'string' }, command: numbers, action: numbers, state: { type: 'string' } },
  required: ['timestamp', 'name', 'mode', 'command', 'action', 'state'],
};

export const REWARD_SCHEMA = {
  title: 'striatum.Reward',
  type: 'object',
  properties: {
    timestamp: time, episode: { type: 'integer' }, step: { type: 'integer' },
    progress: number, shaping: number, gold: number, total: number,
    no_reward: { type: 'boolean' }, done: { type: 'boolean' },
  },
  required: ['timestamp', 'episode', 'step', 'progress', 'shaping', 'gold', 'total', 'no_reward', 'done'],
};

export const PROGRESS_SCHEMA = {
  title: 'striatum.Progress',
  type: 'object',
  properties: { timestamp: time, episode: { type: 'integer' }, step: { type: 'integer' }, progress: number, prm_progress: number },
  required: ['timestamp', 'episode', 'step', 'progress', 'prm_progress'],
};
