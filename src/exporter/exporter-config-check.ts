/**
 * Range checks of the config given to `new Exporter()` (the library API:
 * milliseconds, numbers). The CLI validates its flags, env and file with the
 * same limits before it gets here; this catches library callers.
 */
import { DEFAULT_EXPORTER_CONFIG, DEFAULT_SERVER_CONFIG, type ExporterConfig } from '../config/exporter-config.js';
import { LOG_LEVELS } from '../log/logger.js';
import { compileInterfaceFilter } from '../net/interface-filter.js';
import { ExporterConfigError } from './exporter-errors.js';

const HOUR = 3_600_000;

/** Throws an ExporterConfigError naming every invalid field, its value and what is allowed. */
export function checkExporterConfig(config: ExporterConfig): void {
  const problems: string[] = [];
  const integer = (field: string, value: unknown, min: number, max: number, unit = ''): void => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      problems.push(`${field}=${JSON.stringify(value)}: must be an integer from ${min} to ${max}${unit}`);
    }
  };
  const boolean = (field: string, value: unknown): void => {
    if (typeof value !== 'boolean') problems.push(`${field}=${JSON.stringify(value)}: must be true or false`);
  };
  const unknown = (prefix: string, given: object, known: object): void => {
    for (const key of Object.keys(given)) {
      if (!Object.hasOwn(known, key)) problems.push(`${prefix}${key}: unknown field (known: ${Object.keys(known).join(', ')})`);
    }
  };
  unknown('', config, DEFAULT_EXPORTER_CONFIG);
  const s = config.server;
  unknown('server.', s, DEFAULT_SERVER_CONFIG);
  integer('server.port', s.port, 0, 65535);
  if (typeof s.host !== 'string') problems.push(`server.host=${JSON.stringify(s.host)}: must be a string ('' = all addresses)`);
  if (typeof s.path !== 'string' || !/^\/[^\s?#]*$/.test(s.path)) {
    problems.push(`server.path=${JSON.stringify(s.path)}: must start with / and contain no spaces, ? or #`);
  } else if (s.path === '/' || s.path === '/health') {
    problems.push(
      `server.path=${JSON.stringify(s.path)}: must not be ${s.path}, which serves ${s.path === '/' ? 'the overview page' : 'the health check'}`,
    );
  }
  integer('server.readTimeout', s.readTimeout, 1, HOUR, ' ms');
  integer('server.writeTimeout', s.writeTimeout, 1, HOUR, ' ms');
  integer('server.maxHeaderBytes', s.maxHeaderBytes, 1024, 64 << 20, ' bytes');
  boolean('server.enableCors', s.enableCors);
  boolean('server.enableGzip', s.enableGzip);
  if (typeof s.webConfigFile !== 'string') problems.push(`server.webConfigFile=${JSON.stringify(s.webConfigFile)}: must be a path or ''`);
  integer('collectInterval', config.collectInterval, 100, HOUR, ' ms');
  integer('activeWindow', config.activeWindow, 100, 24 * HOUR, ' ms');
  boolean('enableActiveOnly', config.enableActiveOnly);
  if (!Array.isArray(config.interfaceFilter)) {
    problems.push(`interfaceFilter=${JSON.stringify(config.interfaceFilter)}: must be an array of interface names or globs`);
  } else {
    for (const pattern of config.interfaceFilter) {
      const why = typeof pattern === 'string' ? badPattern(pattern) : 'must be a string';
      if (why) problems.push(`interfaceFilter entry ${JSON.stringify(pattern)}: ${why}`);
    }
  }
  if (!LOG_LEVELS.includes(config.logLevel))
    problems.push(`logLevel=${JSON.stringify(config.logLevel)}: must be one of ${LOG_LEVELS.join(', ')}`);
  if (problems.length > 0) throw new ExporterConfigError(problems);
}

function badPattern(pattern: string): string | undefined {
  try {
    compileInterfaceFilter([pattern]);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}
