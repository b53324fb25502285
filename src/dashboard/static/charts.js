// uPlot charts over the model's arrays. Missing or non-finite values are gaps, never a broken scale.
import uPlot from '/lib/uPlot.esm.js';
import { el } from './dom.js';

const COLORS = ['#2a6fdb', '#d9480f', '#2b8a3e', '#862e9c'];

export class Chart {
  /** series: [{ label, scale? }]; time: x in Unix seconds (else plain numbers, e.g. episode index). */
  constructor(parent, { title, series, time = true, height = 170, yLabel = '' }) {
    this.box = el('div', { class: 'chart', 'data-title': title });
    parent.append(this.box);
    this.points = 0;
    const width = Math.max(240, this.box.clientWidth || 360);
    this.plot = new uPlot({
      title, width, height,
      scales: { x: { time } },
      series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length], width: 1.5, points: { show: !time } }))],
      axes: [{}, { size: 56, label: yLabel }],
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
    }, [[], ...series.map(() => [])], this.box);
  }

  /** columns: [x, y1, y2, ...], read only. */
  setData(columns) {
    const n = columns[0].length;
    if (n === this.points && n > 0 && columns[0][n - 1] === this.lastX) return;
    this.points = n;
    this.lastX = columns[0][n - 1];
    this.box.dataset.points = String(n);
    this.plot.setData(columns.map((c, i) => (i === 0 ? c.slice() : c.map((v) => (Number.isFinite(v) ? v : null)))));
  }

  fit() {
    const width = Math.max(240, this.box.clientWidth);
    if (Math.abs(width - this.plot.width) > 4) this.plot.setSize({ width, height: this.plot.height });
  }

  destroy() {
    this.plot.destroy();
  }
}
