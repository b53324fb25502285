// The dashboard page: login, then the fleet (#) or one robot (#robot/<id>). Talks to the broker only, over MQTT
// over WebSocket, with the login typed here.
import { grammar } from '/topics.js';
import { BrokerSession, CONNECTION } from './broker-session.js';
import { CommandTracker } from './command-tracker.js';
import { ago, el, setText } from './dom.js';
import { FleetModel } from './fleet-model.js';
import { FleetView } from './fleet-view.js';
import { RobotView } from './robot-view.js';

const RENDER_EVERY_MS = 250;
const $ = (id) => document.getElementById(id);

/** Frame times measured in the page (requestAnimationFrame deltas), for the responsiveness test and its report. */
const frames = { deltas: new Float64Array(2048), count: 0, last: 0 };
function measureFrames(t) {
  if (frames.last > 0) frames.deltas[frames.count++ % frames.deltas.length] = t - frames.last;
  frames.last = t;
  requestAnimationFrame(measureFrames);
}
requestAnimationFrame(measureFrames);
function frameStats() {
  const n = Math.min(frames.count, frames.deltas.length);
  const d = Array.from(frames.deltas.subarray(0, n)).sort((a, b) => a - b);
  const q = (p) => (n === 0 ? NaN : d[Math.min(n - 1, Math.floor(p * n))]);
  return { frames: frames.count, p50_ms: q(0.5), p99_ms: q(0.99), max_ms: n === 0 ? NaN : d[n - 1] };
}
function resetFrameStats() { frames.count = 0; frames.last = 0; }

async function main() {
  const config = await fetch('/config.json').then((r) => r.json()).catch(() => ({ broker: null }));
  const sameHost = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`;
  $('login-broker').value = config.broker ?? sameHost;
  $('login').addEventListener('submit', (e) => {
    e.preventDefault();
    start({ url: $('login-broker').value.trim(), username: $('login-username').value, password: $('login-password').value });
  });
}

function start(login) {
  $('login-submit').disabled = true;
  setText($('login-error'), '');
  $('fleet-view').replaceChildren();
  $('robot-view').replaceChildren();
  const model = new FleetModel(grammar);
  const session = new BrokerSession(grammar, login);
  const tracker = new CommandTracker(model, $('outcome-list'));
  let lastModelVersion = -1;
  let renderQueued = false;
  let lastRenderMs = 0;

  const sendCommand = (robotId, command, reason) => {
    const entry = tracker.start(robotId, command);
    $('outcomes').hidden = false;
    session.sendCommand(robotId, command, reason).then(() => tracker.sent(entry), (err) => tracker.failed(entry, err.message));
  };

  const fleetView = new FleetView($('fleet-view'), model, (id) => { location.hash = `#robot/${encodeURIComponent(id)}`; });
  const robotView = new RobotView($('robot-view'), model, session, sendCommand);

  const route = () => {
    const m = /^#robot\/(.+)$/.exec(location.hash);
    const id = m ? decodeURIComponent(m[1]) : null;
    $('fleet-view').hidden = id !== null;
    $('robot-view').hidden = id === null;
    if (id !== null && id !== robotView.robotId) robotView.show(id);
    if (id === null && robotView.robotId !== null) robotView.clear();
    updateEstop();
    render(true);
  };

  const updateEstop = () => {
    const button = $('estop');
    button.hidden = session.role !== 'operator';
    setText(button, robotView.robotId !== null ? `E-STOP ${robotView.robotId}` : 'E-STOP ALL');
  };

  const estop = () => {
    if (session.role !== 'operator') return;
    const targets = robotView.robotId !== null ? [robotView.robotId]
      : [...model.robots.values()].filter((r) => r.online !== false).map((r) => r.id);
    for (const id of targets) sendCommand(id, 'estop', 'e-stop from the dashboard');
  };
  $('estop').addEventListener('click', estop);
  $('outcomes-close').addEventListener('click', () => { $('outcomes').hidden = true; });
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape') { e.preventDefault(); estop(); } });

  function render(force = false) {
    const now = Date.now();
    if (!force && now - lastRenderMs < RENDER_EVERY_MS) { queueRender(); return; }
    lastRenderMs = now;
    lastModelVersion = model.version;
    if (robotView.robotId === null) fleetView.render(now); else robotView.render(now);
    tracker.update(now);
    const ignored = $('ignored');
    ignored.hidden = model.ignoredMessages === 0;
    setText(ignored, `${model.ignoredMessages} messages ignored (robot ids outside the topic grammar or malformed)`);
    ignored.title = [...model.ignoredIds].join('\n');
    showConnection(now);
  }
  function queueRender() {
    if (renderQueued) return;
    renderQueued = true;
    setTimeout(() => requestAnimationFrame(() => { renderQueued = false; render(); }), RENDER_EVERY_MS);
  }

  function showConnection(now) {
    const c = $('connection');
    const text = {
      [CONNECTION.connecting]: `connecting to ${login.url}…`,
      [CONNECTION.connected]: `connected to ${login.url}`,
      [CONNECTION.disconnected]: `disconnected${session.disconnectedSinceMs > 0 ? ` ${ago(session.disconnectedSinceMs, now)}` : ''}: ${session.detail}`,
      [CONNECTION.loginFailed]: `login refused: ${session.detail}`,
      [CONNECTION.closed]: 'closed',
    }[session.state];
    setText(c, text);
    c.dataset.state = session.state;
    c.className = `conn conn-${session.state}`;
    document.body.dataset.broker = session.state;
  }

  session.addEventListener('message', (e) => {
    model.ingest(e.detail.topic, e.detail.payload);
    queueRender();
  });
  session.addEventListener('state', () => {
    if (session.state === CONNECTION.loginFailed && !session.connectedOnce) {
      // Back to the form, with the broker's reason.
      setText($('login-error'), `Login refused: ${session.detail}.`);
      $('login-submit').disabled = false;
      $('login-view').hidden = false;
      $('fleet-view').hidden = true;
      return;
    }
    if (session.state === CONNECTION.connected) {
      $('login-view').hidden = true;
      route();
    }
    render(true);
  });
  session.addEventListener('role', () => {
    setText($('who'), `${login.username} (${session.role === 'operator' ? 'operator' : 'viewer: read only'})`);
    $('who').dataset.role = session.role;
    updateEstop();
    robotView.renderControls();
  });
  window.addEventListener('hashchange', route);
  window.addEventListener('resize', () => robotView.fit());
  setInterval(() => render(true), 1000);

  window.striatumDashboard = { session, model, frameStats, resetFrameStats, get renderedVersion() { return lastModelVersion; } };
  session.connect();
}

main();
