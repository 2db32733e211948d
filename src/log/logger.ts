import { createRequire } from 'node:module';
import pino from 'pino';
import type pretty from 'pino-pretty';

// pino-pretty is loaded only for --log.format=text: a JSON-logging DaemonSet
// does not carry it in memory (docs/benchmarks.md, part 5).
const require = createRequire(import.meta.url);
const loadPretty = (): typeof pretty => require('pino-pretty') as typeof pretty;

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
/** `json` for log pipelines, `text` for one human-readable line per event. */
export type LogFormat = 'json' | 'text';
export const LOG_FORMATS: readonly LogFormat[] = ['json', 'text'];

export type Logger = pino.Logger;

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  /** File descriptor to write to; stderr by default so stdout stays free for `--check` output. */
  fd?: number;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? 'info';
  const fd = opts.fd ?? 2;
  // Synchronous writes: a fatal error logged right before exit is never lost.
  const stream =
    opts.format === 'text'
      ? loadPretty()({
          destination: fd,
          sync: true,
          colorize: false,
          singleLine: true,
          translateTime: 'SYS:standard',
          ignore: 'pid,hostname',
        })
      : pino.destination({ dest: fd, sync: true });
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
}

/** A logger that drops everything: the default for library users who pass none. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
