/**
 * Command-line flags → settings. `node:util` parseArgs tokenizes (in
 * non-strict mode, so every problem is collected rather than the first one
 * thrown); this file validates each token against the schema.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { readOrRecord, type ConfigProblem, type LayerResult } from './config-problem.js';
import { didYouMeanSuffix } from './did-you-mean.js';
import { CONFIG_SCHEMA, SETTING_NAMES, settingOf, type SettingName, type Settings } from './schema.js';

/** What the process is asked to do besides (or instead of) serving. */
export type Command = 'run' | 'check' | 'help' | 'version';

/** Flags that are commands, not settings. */
export const COMMAND_FLAGS: ReadonlyArray<{ flag: string; short?: string; command: Exclude<Command, 'run'>; help: string }> = [
  { flag: 'help', short: 'h', command: 'help', help: 'Show this help and exit.' },
  { flag: 'version', command: 'version', help: 'Print the version and exit.' },
  {
    flag: 'check',
    command: 'check',
    help: 'Load, attach, read the counters once, print the metrics that would be exported, detach and exit (0 if it works, 1 with the reason if not).',
  },
];

const FLAG_TO_SETTING = new Map<string, SettingName>(
  SETTING_NAMES.flatMap((name) => {
    const flag = CONFIG_SCHEMA[name].flag;
    return flag === undefined ? [] : [[flag, name] as const];
  }),
);
const KNOWN_FLAGS = [...FLAG_TO_SETTING.keys(), ...COMMAND_FLAGS.map((c) => c.flag)];

function parseArgsOptions(): NonNullable<ParseArgsConfig['options']> {
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const [flag, name] of FLAG_TO_SETTING) {
    const kind = settingOf(name).kind;
    options[flag] = { type: kind.isBoolean ? 'boolean' : 'string', multiple: kind.isList === true };
  }
  for (const c of COMMAND_FLAGS) options[c.flag] = c.short === undefined ? { type: 'boolean' } : { type: 'boolean', short: c.short };
  return options;
}

export interface ParsedFlags {
  command: Command;
  settings: Partial<Settings>;
}

/** Parses argv (without `node` and the script). Later flags win; list flags accumulate. */
export function parseFlags(argv: readonly string[]): LayerResult<ParsedFlags> {
  const state: FlagState = { problems: [], settings: {}, commands: new Set() };
  parseInto(argv, state);
  const { problems, settings, commands } = state;
  for (const name of Object.keys(settings) as SettingName[]) if (settings[name] === undefined) delete settings[name];
  const command: Command = commands.has('help') ? 'help' : commands.has('version') ? 'version' : commands.has('check') ? 'check' : 'run';
  return { values: { command, settings: settings as Partial<Settings> }, problems };
}

interface FlagState {
  problems: ConfigProblem[];
  settings: Partial<Record<SettingName, unknown>>;
  commands: Set<Command>;
}

function parseInto(argv: readonly string[], state: FlagState): void {
  const { tokens } = parseArgs({ args: [...argv], options: parseArgsOptions(), strict: false, allowPositionals: true, tokens: true });
  const { problems, settings, commands } = state;
  let swallowIndex = -1;

  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      // `--unknwon value`: the value belongs to the unknown flag already reported.
      if (token.index !== swallowIndex)
        problems.push({ field: 'argument', value: token.value, message: 'unexpected argument; every setting is a --flag (see --help)' });
      continue;
    }
    const command = COMMAND_FLAGS.find((c) => c.flag === token.name);
    if (command) {
      if (token.value !== undefined) problems.push({ field: token.rawName, value: token.value, message: 'takes no value' });
      else commands.add(command.command);
      continue;
    }
    const negated = token.name.startsWith('no-') ? FLAG_TO_SETTING.get(token.name.slice(3)) : undefined;
    if (negated !== undefined && settingOf(negated).kind.isBoolean) {
      if (token.value !== undefined)
        problems.push({ field: token.rawName, value: token.value, message: `takes no value (write --${token.name.slice(3)}=false)` });
      else settings[negated] = false;
      continue;
    }
    const name = FLAG_TO_SETTING.get(token.name);
    if (name === undefined) {
      problems.push({
        field: token.rawName,
        message: `unknown flag${didYouMeanSuffix(token.name, KNOWN_FLAGS, (f) => `--${f}`)}; see --help`,
      });
      if (!token.inlineValue) swallowIndex = token.index + 1;
      continue;
    }
    const kind = settingOf(name).kind;
    const where = { field: token.rawName, value: token.value };
    if (kind.isBoolean) {
      settings[name] = token.value === undefined ? true : readOrRecord(problems, where, () => kind.fromText(token.value));
      continue;
    }
    const swallowedFlag = !token.inlineValue && token.value !== undefined && token.value.startsWith('--');
    if (token.value === undefined || swallowedFlag) {
      problems.push({ field: token.rawName, message: `needs a value: ${kind.allowed} (--${token.name}=<${kind.placeholder}>)` });
      // parseArgs took the next flag as this one's value: read the rest again from that flag on.
      if (swallowedFlag) {
        parseInto(argv.slice(token.index + 1), state);
        return;
      }
      continue;
    }
    const value = readOrRecord(problems, where, () => kind.fromText(token.value));
    if (value === undefined) continue;
    const previous = settings[name];
    settings[name] = kind.isList && Array.isArray(previous) ? [...(previous as string[]), ...(value as string[])] : value;
  }
}
