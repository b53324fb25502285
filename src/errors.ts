// One catalog of every error Striatum raises. Tests assert on codes, never on message text.
// The CLI turns a StriatumError into one readable line and the exit code listed here.

export const ErrorCodes = {
  STRIATUM_ERR_CONFIG: { exit: 2, summary: 'invalid configuration' },
  STRIATUM_ERR_USAGE: { exit: 2, summary: 'invalid command line' },
  STRIATUM_ERR_OUTPUT_EXISTS: { exit: 2, summary: 'output folder is not empty (--force writes over it)' },
  STRIATUM_ERR_POLICY_LOAD: { exit: 3, summary: 'policy model could not be loaded' },
  STRIATUM_ERR_POLICY_SHAPE: { exit: 3, summary: 'policy tensors do not match the robot' },
  STRIATUM_ERR_POLICY_METADATA: { exit: 3, summary: 'policy metadata is invalid' },
  STRIATUM_ERR_POLICY_PROVIDER: { exit: 3, summary: 'no execution provider could be used' },
  STRIATUM_ERR_PRM_METADATA: { exit: 3, summary: 'process-reward model metadata is invalid' },
  STRIATUM_ERR_PRM_SHAPE: { exit: 3, summary: 'process-reward model tensors do not fit its kind' },
  STRIATUM_ERR_PRM_START: { exit: 3, summary: 'process-reward model worker did not start' },
  STRIATUM_ERR_TRANSPORT: { exit: 4, summary: 'robot transport failed' },
  STRIATUM_ERR_SERIAL_CRC: { exit: 4, summary: 'serial frame failed its CRC' },
  STRIATUM_ERR_SERIAL_SCHEMA: { exit: 4, summary: 'firmware schema hash does not match' },
  STRIATUM_ERR_ROS2_UNAVAILABLE: { exit: 4, summary: 'ROS 2 is not available' },
  STRIATUM_ERR_ROS2_CDR: { exit: 4, summary: 'a ROS 2 message is not valid CDR for its type' },
  STRIATUM_ERR_ROS2_JOINTS: { exit: 4, summary: 'the robot\'s joint states lack a configured joint' },
  STRIATUM_ERR_MQTT: { exit: 5, summary: 'MQTT connection failed' },
  STRIATUM_ERR_BROKER: { exit: 5, summary: 'embedded broker failed' },
  STRIATUM_ERR_SAFETY: { exit: 6, summary: 'safety fault' },
  STRIATUM_ERR_IO: { exit: 7, summary: 'file input/output failed' },
  STRIATUM_ERR_DATASET: { exit: 7, summary: 'dataset is malformed or does not fit the robot' },
  STRIATUM_ERR_STORE: { exit: 7, summary: 'rollout store unreachable or failing' },
  STRIATUM_ERR_STORE_SCHEMA: { exit: 7, summary: 'rollout store schema is newer than this updater' },
  STRIATUM_ERR_SNAPSHOT: { exit: 7, summary: 'training snapshot unusable (no episodes, or non-finite values)' },
  STRIATUM_ERR_INTERNAL: { exit: 70, summary: 'internal error' },
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class StriatumError extends Error {
  readonly code: ErrorCode;
  /** Extra lines shown under the message (one per config issue, for instance). */
  readonly details: readonly string[];

  constructor(code: ErrorCode, message: string, details: readonly string[] = [], options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StriatumError';
    this.code = code;
    this.details = details;
  }

  get exitCode(): number {
    return ErrorCodes[this.code].exit;
  }
}

export function isStriatumError(err: unknown, code?: ErrorCode): err is StriatumError {
  return err instanceof StriatumError && (code === undefined || err.code === code);
}
