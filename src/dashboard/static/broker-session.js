// The page's one MQTT connection (mqtt.js browser build, global `mqtt`): login, reconnects, the fleet
// subscriptions, whether this login may command (SUBACK of the operator-access topic), commands.

/** Connection states the header shows. */
export const CONNECTION = Object.freeze({
  connecting: 'connecting', connected: 'connected', disconnected: 'disconnected', loginFailed: 'login-failed', closed: 'closed',
});

const LOGIN_ERRORS = {
  2: 'the broker refused this client id',
  4: 'wrong username or password',
  5: 'this account may not connect',
};

export class BrokerSession extends EventTarget {
  constructor(grammar, { url, username, password }) {
    super();
    this.grammar = grammar;
    this.url = url;
    this.username = username;
    this.password = password;
    this.state = CONNECTION.connecting;
    this.detail = '';
    /** 'operator' (may command), 'viewer', or null before the broker answered. */
    this.role = null;
    this.client = null;
    this.connectedOnce = false;
    this.disconnectedSinceMs = 0;
    this.cameraFilter = null;
  }

  connect() {
    const random = Math.random().toString(16).slice(2, 10);
    // `<username>-…` is this account's own client id on the embedded broker: no other login can take it over.
    this.client = globalThis.mqtt.connect(this.url, {
      username: this.username, password: this.password, clientId: `${this.username}-dashboard-${random}`,
      protocolVersion: 4, clean: true, reconnectPeriod: 2000, connectTimeout: 5000, keepalive: 10, resubscribe: false,
    });
    this.client.on('connect', () => this.onConnect());
    this.client.on('message', (topic, payload) => this.dispatchEvent(new CustomEvent('message', { detail: { topic, payload } })));
    this.client.on('error', (err) => this.onError(err));
    this.client.on('close', () => this.dropUnacknowledged());
    this.client.on('close', () => this.setState(this.state === CONNECTION.loginFailed || this.state === CONNECTION.closed ? this.state : CONNECTION.disconnected, 'broker unreachable; retrying every 2 s'));
    this.client.on('reconnect', () => { if (this.state !== CONNECTION.loginFailed) this.setState(CONNECTION.disconnected, 'reconnecting…'); });
  }

  setState(state, detail) {
    if (state !== CONNECTION.connected && this.state === CONNECTION.connected) this.disconnectedSinceMs = Date.now();
    this.state = state;
    this.detail = detail;
    this.dispatchEvent(new CustomEvent('state'));
  }

  onConnect() {
    this.connectedOnce = true;
    this.setState(CONNECTION.connected, '');
    const g = this.grammar;
    const filters = [...g.fleet, g.policyManifests, g.updaterStatus, g.updaterTraining];
    if (this.cameraFilter !== null) filters.push(this.cameraFilter);
    this.client.subscribe(filters, { qos: 0 });
    this.probeRole();
  }

  /**
   * May this login command? Subscribe to our echo topic and publish there (operators only may do both): the
   * embedded broker refuses a viewer's subscription; Mosquitto grants it but drops a viewer's publish, so no
   * echo arrives. Controls show only after the echo; the broker enforces its ACL whatever the page shows.
   */
  probeRole() {
    const topic = this.grammar.operatorEcho.replace('{client}', this.client.options.clientId);
    const decide = (role) => {
      if (this.role === role) return;
      this.role = role;
      this.dispatchEvent(new CustomEvent('role'));
    };
    const onEcho = (t) => { if (t === topic) { clearTimeout(timer); this.client.off('message', onEcho); decide('operator'); } };
    const timer = setTimeout(() => { this.client.off('message', onEcho); decide('viewer'); }, 3000);
    this.client.on('message', onEcho);
    this.client.subscribe(topic, { qos: 0 }, (err, granted) => {
      if (err || granted === undefined || granted.length === 0 || granted[0].qos === 128) {
        clearTimeout(timer);
        this.client.off('message', onEcho);
        decide('viewer');
        return;
      }
      this.client.publish(topic, 'operator?', { qos: 0, retain: false });
    });
  }

  onError(err) {
    const code = typeof err?.code === 'number' ? err.code : null;
    if (code !== null && LOGIN_ERRORS[code] !== undefined) {
      // A refused login does not get better by retrying.
      this.setState(CONNECTION.loginFailed, LOGIN_ERRORS[code]);
      this.client.end(true);
      return;
    }
    if (this.state !== CONNECTION.connected) this.setState(CONNECTION.disconnected, `broker unreachable (${String(err?.message ?? err)}); retrying every 2 s`);
  }

  /**
   * A command the broker had not acknowledged when the connection dropped is not sent again after the reconnect
   * (mqtt.js would): a "resume" arriving a minute late could start a robot the operator meant to keep still.
   * Its outcome says it was not sent; the operator decides again.
   */
  dropUnacknowledged() {
    for (const id of Object.keys(this.client.outgoing)) this.client.removeOutgoingMessage(Number(id));
  }

  /** Frames from one robot's cameras only while its page is open: JPEGs from a whole fleet would be wasted. */
  watchCameras(robotId) {
    // The id comes from the page's address: only a real robot id becomes part of a subscription (no wildcards).
    const valid = robotId !== null && new RegExp(this.grammar.robotIdPattern).test(robotId);
    const filter = valid ? this.grammar.camera.replace('{robot}', robotId) : null;
    if (filter === this.cameraFilter) return;
    if (this.cameraFilter !== null && this.client?.connected) this.client.unsubscribe(this.cameraFilter);
    this.cameraFilter = filter;
    if (filter !== null && this.client?.connected) this.client.subscribe(filter, { qos: 0 });
  }

  /** Send a command (QoS 1, never retained). Resolves when the broker took it, rejects when it could not be sent. */
  sendCommand(robotId, command, reason) {
    return new Promise((resolve, reject) => {
      if (this.client === null || !this.client.connected) { reject(new Error('broker disconnected')); return; }
      if (!new RegExp(this.grammar.robotIdPattern).test(robotId)) { reject(new Error('not a robot id')); return; }
      const topic = this.grammar.cmd.replace('{robot}', robotId);
      const body = JSON.stringify({ v: this.grammar.contractVersion, command, reason, from: this.username.slice(0, 64) });
      this.client.publish(topic, body, { qos: 1, retain: false }, (err) => (err ? reject(new Error(err.message === 'Message removed' ? 'the broker connection dropped before the broker took it; not resent' : err.message)) : resolve()));
    });
  }

  close() {
    this.setState(CONNECTION.closed, '');
    this.client?.end(true);
  }
}
