// The fleet table: every robot seen, sortable by any column. Rows are built once per robot and only changed
// cells are written, so 50 robots publishing telemetry stay cheap to draw.
import { ago, clip, el, fmt, pct, setText } from './dom.js';

const LIVENESS_ORDER = { online: 0, stale: 1, unknown: 2, offline: 3 };

function columns(model) {
  return [
    { key: 'id', label: 'Robot', value: (r) => r.id, text: (r) => r.id },
    { key: 'link', label: 'Link', value: (r, now) => LIVENESS_ORDER[model.liveness(r, now)], text: (r, now) => model.liveness(r, now) },
    { key: 'state', label: 'State', value: (r) => r.state ?? '', text: (r) => r.state ?? '—' },
    { key: 'policy', label: 'Policy', value: (r) => r.policyVersion ?? '', text: (r) => clip(r.policyVersion ?? '—', 40) },
    {
      key: 'success', label: `Success, last ${model.recentEpisodes} (env · PRM)`, value: (r) => model.successRates(r).truth,
      text: (r) => { const s = model.successRates(r); return s.n === 0 ? '—' : `${pct(s.truth)} · ${pct(s.prm)} (n=${s.n})`; },
    },
    { key: 'p99', label: 'Period error p99 (µs)', value: (r) => r.periodErrorP99Us, text: (r) => fmt(r.periodErrorP99Us, 0), numeric: true },
    { key: 'misses', label: 'Deadline misses', value: (r) => r.deadlineMisses, text: (r) => fmt(r.deadlineMisses, 0), numeric: true },
    { key: 'event', label: 'Last event', value: (r) => r.lastEvent?.atMs ?? 0, text: (r) => (r.lastEvent ? clip(`${r.lastEvent.code}: ${r.lastEvent.message}`, 90) : '—') },
    { key: 'seen', label: 'Last seen', value: (r) => r.lastSeenMs, text: (r, now) => ago(r.lastSeenMs, now) },
  ];
}

export class FleetView {
  constructor(root, model, onOpen) {
    this.model = model;
    this.columns = columns(model);
    this.sortKey = 'id';
    this.sortDir = 1;
    this.rows = new Map();
    this.order = [];
    this.headers = new Map();
    const headRow = el('tr');
    for (const c of this.columns) {
      const th = el('th', { scope: 'col', 'data-key': c.key, class: c.numeric ? 'num' : null, 'aria-sort': 'none' },
        el('button', { type: 'button', onclick: () => this.sortBy(c.key) }, c.label));
      this.headers.set(c.key, th);
      headRow.append(th);
    }
    this.body = el('tbody');
    this.empty = el('p', { class: 'empty' }, 'No robot seen on this broker yet.');
    this.count = el('span', { class: 'count' });
    root.append(el('h2', {}, 'Fleet ', this.count), this.empty, el('table', { class: 'fleet' }, el('thead', {}, headRow), this.body));
    this.onOpen = onOpen;
    this.markSort();
  }

  sortBy(key) {
    this.sortDir = this.sortKey === key ? -this.sortDir : 1;
    this.sortKey = key;
    this.markSort();
    this.render(Date.now());
  }

  markSort() {
    for (const [key, th] of this.headers) th.setAttribute('aria-sort', key === this.sortKey ? (this.sortDir > 0 ? 'ascending' : 'descending') : 'none');
  }

  row(robot) {
    let row = this.rows.get(robot.id);
    if (row === undefined) {
      const cells = this.columns.map((c) => el('td', { 'data-key': c.key, class: c.numeric ? 'num' : null }));
      const tr = el('tr', { tabindex: '0', onclick: () => this.onOpen(robot.id), onkeydown: (e) => { if (e.key === 'Enter') this.onOpen(robot.id); } }, ...cells);
      tr.dataset.robot = robot.id;
      row = { tr, cells };
      this.rows.set(robot.id, row);
    }
    return row;
  }

  render(now) {
    const robots = [...this.model.robots.values()];
    setText(this.count, `(${robots.length})`);
    this.empty.hidden = robots.length > 0;
    for (const robot of robots) {
      const row = this.row(robot);
      const live = this.model.liveness(robot, now);
      if (row.tr.dataset.live !== live) row.tr.dataset.live = live;
      if (row.tr.dataset.state !== (robot.state ?? '')) row.tr.dataset.state = robot.state ?? '';
      this.columns.forEach((c, i) => setText(row.cells[i], c.text(robot, now)));
    }
    const column = this.columns.find((c) => c.key === this.sortKey);
    const key = (r) => { const v = column.value(r, now); return typeof v === 'number' && !Number.isFinite(v) ? -Infinity : v; };
    robots.sort((a, b) => {
      const va = key(a);
      const vb = key(b);
      const cmp = typeof va === 'string' || typeof vb === 'string' ? String(va).localeCompare(String(vb)) : va - vb;
      return (cmp || a.id.localeCompare(b.id)) * this.sortDir;
    });
    const order = robots.map((r) => r.id);
    if (order.length !== this.order.length || order.some((id, i) => id !== this.order[i])) {
      for (const id of order) this.body.append(this.rows.get(id).tr);
      this.order = order;
    }
  }
}
