// One robot: status, operator controls, cameras, live charts, event log, policy history, the updater.
import { Chart } from './charts.js';
import { renderControls } from './controls.js';
import { ago, clip, el, fmt, setText } from './dom.js';

const EVENTS_SHOWN = 60;

export class RobotView {
  constructor(root, model, session, sendCommand) {
    this.root = root;
    this.model = model;
    this.session = session;
    this.sendCommand = sendCommand;
    this.robotId = null;
    this.charts = [];
    this.cameraImages = new Map();
  }

  show(robotId) {
    this.clear();
    this.robotId = robotId;
    const r = this.root;
    this.title = el('h2', {}, robotId);
    this.badges = { live: el('span', { class: 'badge', 'data-role': 'live' }), state: el('span', { class: 'badge', 'data-role': 'state' }) };
    this.facts = el('p', { class: 'facts' });
    this.controlBox = el('div', { class: 'control-box' });
    this.cameraBox = el('div', { class: 'cameras' }, el('p', { class: 'empty' }, 'No camera frames (mqtt.camera_frames is off on this robot).'));
    const charts = el('div', { class: 'charts' });
    this.eventList = el('tbody');
    this.policyList = el('tbody');
    this.updaterBox = el('div', { class: 'updater' });
    r.append(
      el('p', {}, el('a', { href: '#' }, '← fleet')),
      el('div', { class: 'robot-head' }, this.title, this.badges.live, this.badges.state),
      this.facts, this.controlBox,
      el('h3', {}, 'Cameras'), this.cameraBox,
      el('h3', {}, 'Charts'), charts,
      el('div', { class: 'two' },
        el('section', {}, el('h3', {}, 'Events'), el('table', { class: 'log events' }, el('thead', {}, el('tr', {}, el('th', {}, 'time'), el('th', {}, 'kind'), el('th', {}, 'code'), el('th', {}, 'message'))), this.eventList)),
        el('section', {}, el('h3', {}, 'Policy history'), el('table', { class: 'log policy' }, el('thead', {}, el('tr', {}, el('th', {}, 'time'), el('th', {}, 'what'), el('th', {}, 'version'), el('th', {}, 'signer key'), el('th', {}, 'message'))), this.policyList))),
      el('h3', {}, 'Updater'), this.updaterBox,
    );
    const chart = (title, series, options = {}) => { const c = new Chart(charts, { title, series, ...options }); this.charts.push(c); return c; };
    this.periodChart = chart('Period error (µs)', [{ label: 'p50' }, { label: 'p99' }]);
    this.computeChart = chart('Tick compute (µs)', [{ label: 'p50' }, { label: 'p99' }]);
    this.rewardChart = chart('PRM progress and shaped reward per step', [{ label: 'progress' }, { label: 'shaped reward' }]);
    this.episodeChart = chart('Episode return and success', [{ label: 'return' }, { label: 'success (1/0)' }], { time: false });
    this.vocChart = chart('VOC per episode', [{ label: 'VOC' }], { time: false });
    this.lossChart = null;
    this.eventsShown = -1;
    this.policyShown = -1;
    this.renderControls();
    this.session.watchCameras(robotId);
  }

  renderControls() {
    if (this.robotId === null) return;
    this.controlBox.replaceChildren();
    if (this.session.role === 'operator') {
      this.controlBox.append(renderControls({ robotId: this.robotId, send: (command, reason) => this.sendCommand(this.robotId, command, reason) }));
    } else if (this.session.role === 'viewer') {
      this.controlBox.append(el('p', { class: 'viewer-note' }, 'Viewer login: read only.'));
    }
  }

  clear() {
    for (const c of this.charts) c.destroy();
    this.charts = [];
    for (const { url } of this.cameraImages.values()) URL.revokeObjectURL(url);
    this.cameraImages.clear();
    this.root.replaceChildren();
    this.robotId = null;
    this.session.watchCameras(null);
  }

  render(now) {
    if (this.robotId === null) return;
    const robot = this.model.robot(this.robotId);
    if (robot === null) {
      setText(this.facts, 'Not seen on this broker yet.');
      return;
    }
    const live = this.model.liveness(robot, now);
    setText(this.badges.live, live);
    this.badges.live.dataset.live = live;
    setText(this.badges.state, robot.state ?? '—');
    this.badges.state.dataset.state = robot.state ?? '';
    this.root.dataset.live = live;
    const rates = this.model.successRates(robot);
    setText(this.facts, [
      `last seen ${ago(robot.lastSeenMs, now)}`, `policy ${robot.policyVersion ?? '—'}`, `transport ${robot.transport ?? '—'}`,
      `episode ${fmt(robot.episodeIndex, 0)}`, `success (last ${rates.n}): env ${fmt(rates.truth * 100, 0)}% · PRM ${fmt(rates.prm * 100, 0)}%`,
      robot.reason ? `reason: ${clip(robot.reason, 160)}` : '', robot.malformed > 0 ? `${robot.malformed} malformed messages ignored` : '',
    ].filter(Boolean).join(' · '));
    this.renderCameras(robot);
    const t = robot.series.telemetry;
    this.periodChart.setData([t.t, t.periodP50, t.periodP99]);
    this.computeChart.setData([t.t, t.computeP50, t.computeP99]);
    const rw = robot.series.reward;
    this.rewardChart.setData([rw.t, rw.progress, rw.shaped]);
    const ep = robot.series.episodes;
    this.episodeChart.setData([ep.index, ep.ret, ep.success]);
    this.vocChart.setData([ep.index, ep.voc]);
    this.renderEvents(robot);
    this.renderPolicy(robot);
    this.renderUpdater(now);
  }

  renderCameras(robot) {
    for (const [name, frame] of robot.cameras) {
      let view = this.cameraImages.get(name);
      if (view === undefined) {
        if (this.cameraImages.size === 0) this.cameraBox.replaceChildren();
        const img = el('img', { alt: `camera ${name}`, 'data-camera': name, width: '192', height: '192' });
        this.cameraBox.append(el('figure', {}, img, el('figcaption', {}, name)));
        view = { img, url: null, atMs: 0 };
        this.cameraImages.set(name, view);
      }
      if (view.atMs === frame.atMs) continue;
      if (view.url !== null) URL.revokeObjectURL(view.url);
      view.url = URL.createObjectURL(new Blob([frame.jpeg], { type: 'image/jpeg' }));
      view.atMs = frame.atMs;
      view.img.src = view.url;
    }
  }

  renderEvents(robot) {
    if (this.eventsShown === robot.eventSeq) return;
    this.eventsShown = robot.eventSeq;
    const rows = robot.events.slice(-EVENTS_SHOWN).reverse().map((e) => el('tr', { 'data-kind': e.kind },
      el('td', {}, new Date(e.atMs).toLocaleTimeString()), el('td', {}, e.kind), el('td', {}, e.code), el('td', {}, e.message)));
    this.eventList.replaceChildren(...rows);
  }

  renderPolicy(robot) {
    const key = `${robot.policyHistory.length}:${this.model.manifests.size}`;
    if (this.policyShown === key) return;
    this.policyShown = key;
    const rows = robot.policyHistory.slice().reverse().map((p) => {
      const keyId = p.keyId ?? (p.version !== null ? this.model.manifests.get(p.version)?.keyId ?? null : null);
      return el('tr', { 'data-code': p.code },
        el('td', {}, new Date(p.atMs).toLocaleTimeString()), el('td', {}, p.code), el('td', {}, p.version ?? '—'), el('td', {}, keyId ?? '—'), el('td', {}, p.message));
    });
    this.policyList.replaceChildren(...rows);
  }

  renderUpdater(now) {
    const u = this.model.updater;
    if (u.status === null && u.training === null) {
      if (this.updaterBox.dataset.shown !== 'none') {
        this.updaterBox.dataset.shown = 'none';
        this.updaterBox.replaceChildren(el('p', { class: 'empty' }, 'No updater on this broker.'));
      }
      return;
    }
    const key = `${u.statusMs}:${u.trainingMs}:${Math.floor(now / 1000)}`;
    if (this.updaterBox.dataset.shown === key) return;
    if (this.updaterBox.dataset.shown === 'none' || this.updaterBox.dataset.shown === undefined) this.updaterBox.replaceChildren();
    this.updaterBox.dataset.shown = key;
    if (this.updaterFacts === undefined || !this.updaterBox.contains(this.updaterFacts)) {
      this.updaterFacts = el('p', { class: 'facts' });
      this.updaterBox.append(this.updaterFacts);
    }
    const s = u.status ?? {};
    const chunks = s.chunks !== null && typeof s.chunks === 'object' ? Object.entries(s.chunks).map(([k, v]) => `${clip(k, 30)} ${fmt(v, 0)}`).join(', ') : '—';
    const tr = u.training ?? {};
    setText(this.updaterFacts, [
      `updater ${clip(s.updater ?? '—', 60)} ${s.online === false ? 'offline' : s.online === true ? 'online' : ''} (${ago(u.statusMs, now)})`,
      `chunks: ${chunks}`, `steps stored ${fmt(s.steps_stored, 0)}`, `episodes ${fmt(s.episodes_complete, 0)}`,
      `training: ${clip(tr.state ?? '—', 20)} round ${fmt(tr.round, 0)} epoch ${fmt(tr.epoch, 0)}/${fmt(tr.epochs, 0)}, rounds ok ${fmt(tr.rounds_ok, 0)} failed ${fmt(tr.rounds_failed, 0)}`,
      tr.last_error ? `last error: ${clip(tr.last_error, 160)}` : '',
    ].filter(Boolean).join(' · '));
    const curve = u.losses;
    if (curve.names.length > 0) {
      if (this.lossChart === null) {
        this.lossChart = new Chart(this.updaterBox, { title: 'Learning curve (trainer losses)', series: curve.names.map((n) => ({ label: n })) });
        this.lossSeries = curve.names.length;
        this.charts.push(this.lossChart);
      }
      this.lossChart.setData([curve.t, ...curve.values.slice(0, this.lossSeries)]);
    }
  }

  fit() {
    for (const c of this.charts) c.fit();
  }
}
