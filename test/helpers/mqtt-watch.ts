// An MQTT client for tests: connects with credentials, collects messages by topic.
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

export interface Watcher {
  client: MqttClient;
  messages: { topic: string; payload: string; retain: boolean }[];
  json(topicSuffix: string): any[];
  close(): Promise<void>;
}

export async function connectClient(url: string, username: string, password: string, extra: IClientOptions = {}): Promise<MqttClient> {
  const client = mqtt.connect(url, { username, password, reconnectPeriod: 0, connectTimeout: 5000, ...extra });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
    client.once('close', () => reject(new Error('connection closed before CONNACK')));
  });
  return client;
}

/** Resolves with the connection error (e.g. bad credentials) or throws when the connection was accepted. */
export async function connectionRefusal(url: string, username: string, password: string): Promise<Error> {
  try {
    const c = await connectClient(url, username, password);
    await c.endAsync();
  } catch (err) {
    return err as Error;
  }
  throw new Error(`broker accepted ${username} with a wrong password`);
}

export async function watch(url: string, username: string, password: string, filter: string): Promise<Watcher> {
  const client = await connectClient(url, username, password);
  const messages: Watcher['messages'] = [];
  client.on('message', (topic, payload, packet) => messages.push({ topic, payload: payload.toString(), retain: packet.retain }));
  const granted = await client.subscribeAsync(filter, { qos: 1 });
  if (granted.some((g) => g.qos === 128)) throw new Error(`subscription to ${filter} refused`);
  return {
    client,
    messages,
    json: (suffix) => messages.filter((m) => m.topic.endsWith(suffix)).map((m) => JSON.parse(m.payload)),
    close: () => client.endAsync(),
  };
}
