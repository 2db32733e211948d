/**
 * One thing wrong with the configuration. The loader collects all of them so
 * the user fixes everything in one go; the CLI prints one line each and exits 2.
 */
import { InvalidValue } from './value-kinds.js';

export interface ConfigProblem {
  /** Where, as the user wrote it: `--web.listen-address`, `NETPROBE_LOG_LEVEL`, `netprobe.yaml: server.port`. */
  field: string;
  /** The offending value as given; absent when there is none (an unknown flag). */
  value?: string;
  /** What is wrong and what is allowed. */
  message: string;
}

/** `--collector.interval="5": must be a duration like 500ms, 5s, ...` */
export function formatProblem(problem: ConfigProblem): string {
  const value = problem.value === undefined ? '' : `=${JSON.stringify(problem.value)}`;
  return `${problem.field}${value}: ${problem.message}`;
}

/** Values read from one layer (flags, env or file), and what was wrong there. */
export interface LayerResult<V> {
  values: V;
  problems: ConfigProblem[];
}

/**
 * Runs a value reader; on `InvalidValue` records a problem and returns
 * undefined. Any other error is a bug and propagates.
 */
export function readOrRecord<T>(problems: ConfigProblem[], where: Omit<ConfigProblem, 'message'>, read: () => T): T | undefined {
  try {
    return read();
  } catch (e) {
    if (!(e instanceof InvalidValue)) throw e;
    problems.push({ ...where, message: e.reason });
    return undefined;
  }
}
