// Structured logs: one JSON object per line, or a readable line when stderr is a terminal.
// Logs go to stderr so stdout stays free for command output (JSON from bench, schema, eval).

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
export const LOG_LEVELS = Object.keys(LEVELS) as LogLevel[];

/**
 * `readable`: the line a person reads on a terminal (pretty format), in place of `msg` and the fields, for lines
 * whose fields would read as noise (an episode's outcome, where to watch the robot). JSON keeps msg and fields.
 */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>, readable?: string): void;
  info(msg: string, fields?: Record<string, unknown>, readable?: string): void;
  warn(msg: string, fields?: Record<string, unknown>, readable?: string): void;
  error(msg: string, fields?: Record<string, unknown>, readable?: string): void;
  child(component: string): Logger;
  enabled(level: LogLevel): boolean;
}

export interface LogSink {
  write(line: string): void;
  readonly pretty: boolean;
}

const COLORS: Record<LogLevel, string> = { debug: '\x1b[90m', info: '\x1b[36m', warn: '\x1b[33m', error: '\x1b[31m' };

class LineLogger implements Logger {
  constructor(
    private readonly sink: LogSink,
    private readonly threshold: number,
    private readonly component: string,
  ) {}

  enabled(level: LogLevel): boolean {
    return LEVELS[level] >= this.threshold;
  }

  child(component: string): Logger {
    return new LineLogger(this.sink, this.threshold, component);
  }

  private emit(level: LogLevel, msg: string, fields?: Record<string, unknown>, readable?: string): void {
    if (LEVELS[level] < this.threshold) return;
    const time = new Date().toISOString();
    if (this.sink.pretty && readable !== undefined) {
      this.sink.write(`${time.slice(11, 23)} ${COLORS[level]}${level.padEnd(5)}\x1b[0m [${this.component}] ${readable}\n`);
    } else if (this.sink.pretty) {
      let extra = '';
      if (fields) for (const [k, v] of Object.entries(fields)) extra += ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`;
      this.sink.write(`${time.slice(11, 23)} ${COLORS[level]}${level.padEnd(5)}\x1b[0m [${this.component}] ${msg}\x1b[90m${extra}\x1b[0m\n`);
    } else {
      this.sink.write(`${JSON.stringify({ time, level, component: this.component, msg, ...fields })}\n`);
    }
  }

  debug(msg: string, fields?: Record<string, unknown>, readable?: string): void { this.emit('debug', msg, fields, readable); }
  info(msg: string, fields?: Record<string, unknown>, readable?: string): void { this.emit('info', msg, fields, readable); }
  warn(msg: string, fields?: Record<string, unknown>, readable?: string): void { this.emit('warn', msg, fields, readable); }
  error(msg: string, fields?: Record<string, unknown>, readable?: string): void { this.emit('error', msg, fields, readable); }
}

export function createLogger(options: { level?: LogLevel; pretty?: boolean; sink?: LogSink; component?: string } = {}): Logger {
  const sink: LogSink = options.sink ?? {
    pretty: options.pretty ?? process.stderr.isTTY === true,
    write: (line: string) => { process.stderr.write(line); },
  };
  return new LineLogger(sink, LEVELS[options.level ?? 'info'], options.component ?? 'striatum');
}

/** A logger that drops everything, for tests and benchmarks. */
export const silentLogger: Logger = createLogger({ level: 'error', sink: { pretty: false, write: () => {} } });
