// Every MQTT topic Striatum uses, in one place. Nothing else in the tree spells a topic string.

export const TOPIC_ROOT = 'striatum/v1';

/**
 * Retained model pieces live outside TOPIC_ROOT: a dashboard or an operator watching `striatum/v1/#` would
 * otherwise receive every piece of every release (hundreds of binary messages) on subscribing.
 */
export const PIECE_ROOT = 'striatum-pieces/v1';

/** Robot ids as the topic grammar allows them (config: robot.id); a dashboard ignores any other level. */
export const ROBOT_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Topic levels under TOPIC_ROOT that are namespaces, not robots: a robot id may not be one of them. */
export const RESERVED_TOPIC_LEVELS: readonly string[] = Object.freeze(['policy', 'updater']);

export const topics = {
  status: (robot: string) => `${TOPIC_ROOT}/${robot}/status`,
  telemetry: (robot: string) => `${TOPIC_ROOT}/${robot}/telemetry`,
  reward: (robot: string) => `${TOPIC_ROOT}/${robot}/reward`,
  episode: (robot: string) => `${TOPIC_ROOT}/${robot}/episode`,
  event: (robot: string) => `${TOPIC_ROOT}/${robot}/event`,
  rollout: (robot: string) => `${TOPIC_ROOT}/${robot}/rollout`,
  rolloutAck: (robot: string) => `${TOPIC_ROOT}/${robot}/rollout/ack`,
  cmd: (robot: string) => `${TOPIC_ROOT}/${robot}/cmd`,
  /** JPEG frames for dashboards (QoS 0, never retained), when mqtt.camera_frames is on. */
  camera: (robot: string, camera: string) => `${TOPIC_ROOT}/${robot}/camera/${camera}`,
  policyManifest: (task: string) => `${TOPIC_ROOT}/policy/${task}/manifest`,
  /**
   * Retained, content-addressed by the model's sha256: a robot that comes online later still finds every piece,
   * and a new release never overwrites the pieces of the one running. Robots may not publish under policy/,
   * so a request/re-publish channel would need a new ACL rule; retained pieces need none.
   */
  policyPiece: (task: string, modelSha256: string, index: number) => `${PIECE_ROOT}/${task}/${modelSha256}/${index}`,
  policyPieces: (task: string, modelSha256: string) => `${PIECE_ROOT}/${task}/${modelSha256}/+`,
  /** Where an updater publishes pieces and a robot reads them (ACL). */
  piecePrefix: () => `${PIECE_ROOT}/`,
  updaterStatus: () => `${TOPIC_ROOT}/updater/status`,
  /** Updaters' events (store full, resumed): QoS 1, not retained. */
  updaterEvent: () => `${TOPIC_ROOT}/updater/event`,
  /** Retained progress of the updater's training rounds. */
  updaterTraining: () => `${TOPIC_ROOT}/updater/training`,
  /** Namespaces an updater account publishes under (ACL). */
  policyPrefix: () => `${TOPIC_ROOT}/policy/`,
  updaterPrefix: () => `${TOPIC_ROOT}/updater/`,
  /** Benchmark traffic only (bench/rollout-throughput's bare-MQTT baseline); an updater account may use it. */
  updaterBench: () => `${TOPIC_ROOT}/updater/bench`,
  /** Prefix a robot account may publish under (ACL). */
  robotPrefix: (robot: string) => `${TOPIC_ROOT}/${robot}/`,
  allRobots: (leaf: string) => `${TOPIC_ROOT}/+/${leaf}`,
  /**
   * How a dashboard learns whether its login may command (it shows controls only then; the broker refuses a
   * viewer's commands anyway): it subscribes to its own echo topic and publishes one message there. Only operator
   * accounts may read and write under this prefix: the embedded broker refuses the subscription (SUBACK 0x80);
   * Mosquitto grants it but drops the publish, so no echo comes back.
   */
  operatorAccessPrefix: () => 'striatum-access/v1/operator/',
  operatorEcho: (clientId: string) => `striatum-access/v1/operator/${clientId}`,
  /** MQTT 5 shared subscription: the broker hands each message to one member of `group`. */
  shared: (group: string, filter: string) => `$share/${group}/${filter}`,
} as const;

/** What follows the robot id in a per-robot topic (`cmd`, `rollout/ack`, ...), or null when the topic is not one. */
export function robotTopicLeaf(topic: string): string | null {
  const robot = robotOfTopic(topic);
  return robot === null ? null : topic.slice(TOPIC_ROOT.length + robot.length + 2);
}

/** The robot id in a per-robot topic, or null when the topic is not one. */
export function robotOfTopic(topic: string): string | null {
  if (!topic.startsWith(`${TOPIC_ROOT}/`)) return null;
  const rest = topic.slice(TOPIC_ROOT.length + 1);
  const slash = rest.indexOf('/');
  if (slash <= 0) return null;
  const robot = rest.slice(0, slash);
  return RESERVED_TOPIC_LEVELS.includes(robot) ? null : robot;
}
