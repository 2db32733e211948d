/**
 * Checks a config given to `new Exporter()` (the TypeScript API) by the rules
 * of the one schema: each ExporterConfig field is the setting whose file key
 * is its path (`server.port`, `collectInterval`), checked by that setting's
 * kind. So flags, env, file and the API share every range, path and glob rule.
 */
import { DEFAULT_EXPORTER_CONFIG } from './exporter-config.js';
import { settingOf, SETTING_NAMES } from './schema.js';

/** One line per problem: the field, the value and what is allowed. Empty = valid. */
export function exporterConfigProblems(config: object): string[] {
  const problems = unknownFields('', config, DEFAULT_EXPORTER_CONFIG);
  const leaves = new Set(exporterConfigFields());
  for (const name of SETTING_NAMES) {
    const { file, kind } = settingOf(name);
    if (file === undefined || !leaves.has(file)) continue;
    const value = valueAt(config, file);
    for (const p of kind.checkValue(value)) {
      problems.push('item' in p ? `${file} entry ${JSON.stringify(p.item)}: ${p.reason}` : `${file}=${JSON.stringify(value)}: ${p.reason}`);
    }
  }
  return problems;
}

/** Every field path of ExporterConfig (`server.port`, `pods.enabled`, `interfaceFilter`). */
export function exporterConfigFields(): string[] {
  const paths: string[] = [];
  const walk = (prefix: string, shape: object): void => {
    for (const [key, value] of Object.entries(shape)) {
      if (isRecord(value)) walk(`${prefix}${key}.`, value);
      else paths.push(`${prefix}${key}`);
    }
  };
  walk('', DEFAULT_EXPORTER_CONFIG);
  return paths;
}

function unknownFields(prefix: string, given: unknown, known: object): string[] {
  if (!isRecord(given)) return prefix === '' ? [] : [`${prefix.slice(0, -1)}=${JSON.stringify(given)}: must be an object`];
  const problems: string[] = [];
  for (const key of Object.keys(given)) {
    if (!Object.hasOwn(known, key)) problems.push(`${prefix}${key}: unknown field (known: ${Object.keys(known).join(', ')})`);
  }
  for (const [key, shape] of Object.entries(known)) {
    if (isRecord(shape)) problems.push(...unknownFields(`${prefix}${key}.`, given[key], shape));
  }
  return problems;
}

function valueAt(config: object, path: string): unknown {
  let at: unknown = config;
  for (const key of path.split('.')) at = isRecord(at) ? at[key] : undefined;
  return at;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
