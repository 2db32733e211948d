/**
 * The YAML config file → settings. Keys are camelCase like `ExporterConfig`,
 * server settings nested under `server:` and eBPF ones under `ebpf:`. Unknown
 * keys are problems (with a suggestion), never silently ignored: a typo in a
 * config file must not quietly leave a default in place.
 */
import { createRequire } from 'node:module';
import type { parseDocument as ParseDocument } from 'yaml';
import { readOrRecord, type ConfigProblem, type LayerResult } from './config-problem.js';
import { didYouMeanSuffix } from './did-you-mean.js';
import { SETTING_NAMES, settingOf, type SettingName, type Settings } from './schema.js';

const FILE_KEY_TO_SETTING = new Map<string, SettingName>(
  SETTING_NAMES.flatMap((name) => {
    const key = settingOf(name).file;
    return key === undefined ? [] : [[key, name] as const];
  }),
);
const FILE_KEYS = [...FILE_KEY_TO_SETTING.keys()];
/** Mappings that hold keys (`server`, `ebpf`). */
const GROUPS = new Set(
  FILE_KEYS.flatMap((key) =>
    key
      .split('.')
      .slice(0, -1)
      .map((_, i, parts) => parts.slice(0, i + 1).join('.')),
  ),
);

// yaml is loaded only when there is a file to read: most runs have none.
const require = createRequire(import.meta.url);
const parseDocument: typeof ParseDocument = (...args) => (require('yaml') as typeof import('yaml')).parseDocument(...args);

function showYaml(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parses the text of a config file. `fileName` only labels problems. A
 * `null` value (`key:` with nothing after it) counts as unset.
 */
export function readConfigFile(text: string, fileName: string): LayerResult<Partial<Settings>> {
  const problems: ConfigProblem[] = [];
  const settings: Partial<Record<SettingName, unknown>> = {};
  const doc = parseDocument(text);
  for (const error of doc.errors) {
    // The yaml package appends a multi-line excerpt; the first line names the problem and its position.
    problems.push({ field: fileName, message: `not valid YAML: ${error.message.split('\n')[0]}` });
  }
  if (doc.errors.length > 0) return { values: {}, problems };

  const data: unknown = doc.toJS();
  if (data === null || data === undefined) return { values: {}, problems };
  if (!isMapping(data)) {
    problems.push({ field: fileName, message: 'must be a YAML mapping of settings, e.g. "collectInterval: 5s"' });
    return { values: {}, problems };
  }

  const walk = (mapping: Record<string, unknown>, prefix: string): void => {
    for (const [key, value] of Object.entries(mapping)) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      const field = `${fileName}: ${path}`;
      if (value === null) continue;
      if (GROUPS.has(path)) {
        if (isMapping(value)) walk(value, path);
        else
          problems.push({
            field,
            value: showYaml(value),
            message: `must be a mapping of ${path} settings (${FILE_KEYS.filter((k) => k.startsWith(`${path}.`)).join(', ')})`,
          });
        continue;
      }
      const name = FILE_KEY_TO_SETTING.get(path);
      if (name === undefined) {
        problems.push({ field, message: `unknown key${didYouMeanSuffix(path, [...FILE_KEYS, ...GROUPS])}` });
        continue;
      }
      const kind = settingOf(name).kind;
      // List problems name the bad item themselves.
      const shown = Array.isArray(value) ? undefined : showYaml(value);
      const parsed = readOrRecord(problems, shown === undefined ? { field } : { field, value: shown }, () => kind.fromYaml(value));
      if (parsed !== undefined) settings[name] = parsed;
    }
  };
  walk(data, '');
  return { values: settings as Partial<Settings>, problems };
}
