/**
 * `NETPROBE_*` environment variables → settings. Each flag has one:
 * `--web.listen-address` → `NETPROBE_WEB_LISTEN_ADDRESS`. Empty values count
 * as unset (manifests often template `VAR=""`). Other `NETPROBE_*` variables
 * are ignored, not refused: Kubernetes injects `NETPROBE_SERVICE_HOST` and the
 * like for a Service named netprobe.
 */
import { readOrRecord, type ConfigProblem, type LayerResult } from './config-problem.js';
import { envVarOf, SETTING_NAMES, settingOf, type SettingName, type Settings } from './schema.js';

export function readEnv(env: Readonly<Record<string, string | undefined>>): LayerResult<Partial<Settings>> {
  const problems: ConfigProblem[] = [];
  const settings: Partial<Record<SettingName, unknown>> = {};
  for (const name of SETTING_NAMES) {
    const setting = settingOf(name);
    if (setting.flag === undefined) continue;
    const variable = envVarOf(setting.flag);
    const text = env[variable];
    if (text === undefined || text.trim() === '') continue;
    const value = readOrRecord(problems, { field: variable, value: text }, () => setting.kind.fromText(text));
    if (value !== undefined) settings[name] = value;
  }
  return { values: settings as Partial<Settings>, problems };
}
