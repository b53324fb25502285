// A progress bar on a terminal; a JSON log line every 10% otherwise.
import type { Logger } from '../log.js';

export class Progress {
  private done = 0;
  private lastDecile = -1;
  private readonly started = Date.now();
  private readonly tty = process.stderr.isTTY === true;

  constructor(private readonly label: string, private readonly total: number, private readonly log: Logger) {}

  tick(note = ''): void {
    this.done++;
    const frac = this.total > 0 ? this.done / this.total : 1;
    if (this.tty) {
      const width = 30;
      const filled = Math.round(frac * width);
      const rate = this.done / Math.max(0.001, (Date.now() - this.started) / 1000);
      process.stderr.write(`\r${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.done}/${this.total} ${rate.toFixed(1)}/s ${note}   `);
      if (this.done >= this.total) process.stderr.write('\n');
    } else {
      const decile = Math.floor(frac * 10);
      if (decile !== this.lastDecile) {
        this.lastDecile = decile;
        this.log.info(this.label, { done: this.done, total: this.total, note });
      }
    }
  }
}
