// TCP_NODELAY for an MQTT.js client. MQTT.js leaves Nagle's algorithm on, so a small packet (an ack, a
// PUBACK) written while an earlier one is unacknowledged waits for the peer's delayed ACK: about 40 ms per
// round trip on Linux. Called on every 'connect', since a reconnect makes a new socket.
import type { MqttClient } from 'mqtt';

export function noDelay(client: MqttClient): void {
  const stream = client.stream as unknown as { setNoDelay?: (on: boolean) => void } | undefined;
  if (typeof stream?.setNoDelay === 'function') stream.setNoDelay(true);
}
