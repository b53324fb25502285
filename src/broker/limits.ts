// What a client can make the embedded broker hold. Declared here, without imports, for the config schema too.

/** Open connections at most: the robot, its rollout connection, an updater, a few dashboards. */
export const DEFAULT_MAX_CONNECTIONS = 64;
/** Largest packet from a logged-in client: twice the default rollout chunk cap (8 MiB). */
export const DEFAULT_MAX_PACKET_BYTES = 16 * 1024 * 1024;
/** Until the client has logged in: a CONNECT (client id, credentials, a small will) needs no more than this. */
export const PRE_AUTH_MAX_PACKET_BYTES = 64 * 1024;
/** A connection that has not sent its CONNECT after this long is closed. */
export const CONNECT_TIMEOUT_MS = 5000;
