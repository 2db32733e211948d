/**
 * The configuration loader: flags > env vars > config file > defaults. Pure
 * apart from the injected `readFile`, so every rule is unit-tested with argv,
 * env and file text in, settings or problems out.
 */
import { checkWebConfigFile } from './check-web-config-file.js';
import { describeReadError } from './describe-read-error.js';
import type { ConfigProblem } from './config-problem.js';
import { withDefaults, type ExporterConfig } from './exporter-config.js';
import { parseFlags, type Command } from './parse-flags.js';
import { readConfigFile } from './read-config-file.js';
import { readEnv } from './read-env.js';
import { defaultSettings, envVarOf, settingOf, type SettingName, type Settings } from './schema.js';

export interface LoadConfigInput {
  /** Arguments after the script name (`process.argv.slice(2)`). */
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  /** Reads the config file; throws (any error) when it cannot. */
  readFile: (path: string) => string;
}

export type LoadConfigResult =
  | {
      ok: true;
      command: Command;
      /** Every setting, resolved. */
      settings: Settings;
      /** The settings the `Exporter` takes, durations in milliseconds. */
      exporter: ExporterConfig;
    }
  | { ok: false; problems: ConfigProblem[] };

export function loadConfig(input: LoadConfigInput): LoadConfigResult {
  const flags = parseFlags(input.argv);
  const { command } = flags.values;
  // --help and --version answer whatever else is on the line.
  if (command === 'help' || command === 'version') {
    const settings = defaultSettings();
    return { ok: true, command, settings, exporter: toExporterConfig(settings) };
  }
  const env = readEnv(input.env);
  const problems = [...flags.problems, ...env.problems];

  const configFile = flags.values.settings.configFile ?? env.values.configFile ?? '';
  /** How the user set a setting, for problem lines: the flag, the env var or the file key. */
  const whereSet = (name: SettingName): string => {
    const { flag, file } = settingOf(name);
    if (flag !== undefined && flags.values.settings[name] !== undefined) return `--${flag}`;
    if (flag !== undefined && env.values[name] !== undefined) return envVarOf(flag);
    return `${configFile}: ${file ?? name}`;
  };
  let fromFile: Partial<Settings> = {};
  if (configFile !== '') {
    const field = whereSet('configFile');
    let text: string | undefined;
    try {
      text = input.readFile(configFile);
    } catch (e) {
      problems.push({ field, value: configFile, message: `cannot read the config file: ${describeReadError(e)}` });
    }
    if (text !== undefined) {
      const file = readConfigFile(text, configFile);
      problems.push(...file.problems);
      fromFile = file.values;
    }
  }
  const settings: Settings = { ...defaultSettings(), ...fromFile, ...env.values, ...flags.values.settings, configFile };
  if (settings.webConfigFile !== '') {
    const field = whereSet('webConfigFile');
    for (const message of checkWebConfigFile(settings.webConfigFile, input.readFile))
      problems.push({ field, value: settings.webConfigFile, message });
  }
  if (settings.cleanup && settings.pinPath === '')
    problems.push({
      field: whereSet('cleanup'),
      value: 'true',
      message: 'needs --ebpf.pin-path: the directory whose pinned state to remove',
    });
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, command, settings, exporter: toExporterConfig(settings) };
}

/** The `Exporter`'s part of the settings. `--web.listen-address` (flag or env) beats the file's host and port. */
export function toExporterConfig(settings: Settings): ExporterConfig {
  const listen = settings.listenAddress ?? { host: settings.host, port: settings.port };
  return withDefaults({
    server: {
      host: listen.host,
      port: listen.port,
      path: settings.path,
      readTimeout: settings.readTimeout,
      writeTimeout: settings.writeTimeout,
      maxHeaderBytes: settings.maxHeaderBytes,
      enableCors: settings.enableCors,
      enableGzip: settings.enableGzip,
      webConfigFile: settings.webConfigFile,
    },
    collectInterval: settings.collectInterval,
    activeWindow: settings.activeWindow,
    interfaceFilter: settings.interfaceFilter,
    uplinks: settings.uplinks,
    enableActiveOnly: settings.enableActiveOnly,
    logLevel: settings.logLevel,
    pods: {
      enabled: settings.pods,
      logsDir: settings.podLogsDir,
      perInterface: settings.podsPerInterface,
      cgroupRoot: settings.kubeletCgroupRoot,
      containers: settings.podsContainers,
    },
    departedRetention: settings.departedRetention,
    drops: { enabled: settings.drops, maxSeries: settings.dropsMaxSeries },
  });
}
