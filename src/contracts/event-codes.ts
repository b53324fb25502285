// Every code an event on `striatum/v1/{robot}/event` can carry, by kind: declared once, so a dashboard can switch
// on them and `striatum schema messages` lists them. The message text says the rest, for people.

/** kind `fault`: why the robot latched its safe state. */
export const FAULT_EVENT_CODES = ['nan_action', 'link_loss', 'deadline_storm', 'policy_error', 'transport_error', 'estop'] as const;

/** kind `rejected_message`: an inbound message the robot refused (and counted). */
export const REJECTED_MESSAGE_EVENT_CODES = ['malformed_command', 'retained_command'] as const;

/** kind `policy`: deployment, refusals (`refused_<reason>`), rollbacks, restore at start-up. */
export const POLICY_REFUSAL_CODES = [
  'manifest_invalid', 'unsigned', 'untrusted_key', 'bad_signature', 'wrong_task', 'shape_mismatch',
  'piece_hash_mismatch', 'model_hash_mismatch', 'download_timeout', 'load_failed', 'stale_version', 'store_failed',
] as const;
export const POLICY_EVENT_CODES = [
  'policy_swapped', 'rollback', 'rollback_unavailable', 'restore_failed', 'state_write_failed',
  ...POLICY_REFUSAL_CODES.map((c) => `refused_${c}` as const),
] as const;

/** kind `reward`. */
export const REWARD_EVENT_CODES = ['reward_hacking_alarm'] as const;

/** kind `connection`: the MQTT link is back, and what the robot did while it was down. */
export const CONNECTION_EVENT_CODES = ['mqtt_reconnected', 'mqtt_reconnected_after_pause', 'mqtt_reconnected_after_estop', 'mqtt_reconnected_after_continue'] as const;

/** Rollout events (kind `fault`, raised by the rollout publisher). */
export const ROLLOUT_EVENT_CODES = ['rollout_paused', 'rollout_resumed', 'rollout_corrupt', 'rollout_rejected'] as const;

export const EVENT_CODES = [
  ...FAULT_EVENT_CODES, ...REJECTED_MESSAGE_EVENT_CODES, ...POLICY_EVENT_CODES, ...REWARD_EVENT_CODES,
  ...CONNECTION_EVENT_CODES, ...ROLLOUT_EVENT_CODES,
] as const;

export type FaultEventCode = (typeof FAULT_EVENT_CODES)[number];
export type PolicyRefusalCode = (typeof POLICY_REFUSAL_CODES)[number];
export type RolloutEventCode = (typeof ROLLOUT_EVENT_CODES)[number];
export type EventCode = (typeof EVENT_CODES)[number];
