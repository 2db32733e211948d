/**
 * The kinds of value a setting can hold, each knowing how to read itself from
 * text (flags, env vars) and from YAML, how to check a value given as-is
 * (the TypeScript API), what it allows (for help and error messages) and how
 * to print itself. Readers throw `InvalidValue`; the loader turns that into
 * one problem line naming the field and the value.
 */
import { isIP } from 'node:net';
import { DURATION_SYNTAX, formatDuration, parseDuration } from './duration.js';
import { checkListenHost } from './listen-host.js';

/** Thrown by a value reader; `reason` says what is allowed (or what is wrong). */
export class InvalidValue extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'InvalidValue';
  }
}

export interface ValueKind<T> {
  /** Shown in `--help` after the flag: `--collector.interval=<duration>`. */
  readonly placeholder: string;
  /** What is allowed, in words: used by help, docs and error messages. */
  readonly allowed: string;
  /** Reads a flag or env var value. */
  fromText(text: string): T;
  /** Reads a YAML value (already parsed by the `yaml` package). */
  fromYaml(value: unknown): T;
  /** Prints a value the way a user would write it (defaults in help and docs). */
  format(value: T): string;
  /**
   * Checks a value given as-is through the TypeScript API (`new Exporter()`:
   * numbers, durations in milliseconds) by the same rules as the readers.
   * Empty when it is valid; a list gets one problem per bad item.
   */
  checkValue(value: unknown): ValueProblem[];
  /** Booleans are flags without a value (`--x`, `--no-x`). */
  readonly isBoolean?: boolean;
  /** Lists may repeat their flag and also take comma-separated values. */
  readonly isList?: boolean;
}

/** Why a value given as-is is refused; `item` names the bad entry of a list. */
export interface ValueProblem {
  readonly reason: string;
  readonly item?: unknown;
}

/** A single problem from a reader's verdict (undefined = valid). */
function problemIf(reason: string | undefined): ValueProblem[] {
  return reason === undefined ? [] : [{ reason }];
}

function textOnly<T>(kind: Omit<ValueKind<T>, 'fromYaml'>, yamlNumbers = false): ValueKind<T> {
  return {
    ...kind,
    fromYaml(value) {
      if (typeof value === 'string') return kind.fromText(value);
      if (yamlNumbers && typeof value === 'number') return kind.fromText(String(value));
      throw new InvalidValue(kind.allowed);
    },
  };
}

export function integerKind(opts: { min: number; max: number; placeholder?: string; unit?: string }): ValueKind<number> {
  const allowed = `an integer from ${opts.min} to ${opts.max}${opts.unit ? ` (${opts.unit})` : ''}`;
  return textOnly<number>(
    {
      placeholder: opts.placeholder ?? 'int',
      allowed,
      fromText(text) {
        const n = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
        if (!Number.isSafeInteger(n) || n < opts.min || n > opts.max) throw new InvalidValue(`must be ${allowed}`);
        return n;
      },
      format: String,
      checkValue: (value) =>
        problemIf(isIntegerIn(value, opts.min, opts.max) ? undefined : `must be ${apiInteger(opts.min, opts.max, opts.unit)}`),
    },
    true,
  );
}

export function durationKind(opts: { min: number; max: number }): ValueKind<number> {
  const range = `from ${formatDuration(opts.min)} to ${formatDuration(opts.max)}`;
  const allowed = `${DURATION_SYNTAX}, ${range}`;
  return {
    placeholder: 'duration',
    allowed,
    fromText(text) {
      const ms = parseDuration(text);
      if (ms === undefined) throw new InvalidValue(`must be ${DURATION_SYNTAX}`);
      if (ms < opts.min || ms > opts.max) throw new InvalidValue(`must be ${range}`);
      return ms;
    },
    fromYaml(value) {
      if (typeof value === 'string') return this.fromText(value);
      // A bare number has no unit: seconds or milliseconds? Refuse to guess.
      if (typeof value === 'number')
        throw new InvalidValue(
          `must be a quoted string with a unit, e.g. "${formatDuration(opts.min > 1000 ? opts.min : 5000)}" (a bare number has no unit)`,
        );
      throw new InvalidValue(`must be ${allowed}`);
    },
    format: formatDuration,
    // The TypeScript API takes milliseconds.
    checkValue: (value) =>
      problemIf(isIntegerIn(value, opts.min, opts.max) ? undefined : `must be ${apiInteger(opts.min, opts.max, 'ms')}`),
  };
}

function isIntegerIn(value: unknown, min: number, max: number): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

function apiInteger(min: number, max: number, unit: string | undefined): string {
  return `an integer from ${min} to ${max}${unit ? ` ${unit}` : ''}`;
}

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);

export const booleanKind: ValueKind<boolean> = {
  placeholder: 'bool',
  allowed: 'true or false',
  isBoolean: true,
  fromText(text) {
    const word = text.trim().toLowerCase();
    if (TRUE_WORDS.has(word)) return true;
    if (FALSE_WORDS.has(word)) return false;
    throw new InvalidValue('must be true or false');
  },
  fromYaml(value) {
    if (typeof value === 'boolean') return value;
    if (typeof value === 'string') return this.fromText(value);
    throw new InvalidValue('must be true or false');
  },
  format: String,
  checkValue: (value) => problemIf(typeof value === 'boolean' ? undefined : 'must be true or false'),
};

export function enumKind<const T extends string>(values: readonly T[]): ValueKind<T> {
  const allowed = `one of ${values.join(', ')}`;
  return textOnly<T>({
    placeholder: values.join('|'),
    allowed,
    fromText(text) {
      const word = text.trim();
      if ((values as readonly string[]).includes(word)) return word as T;
      throw new InvalidValue(`must be ${allowed}`);
    },
    format: String,
    checkValue: (value) => problemIf((values as readonly unknown[]).includes(value) ? undefined : `must be ${allowed}`),
  });
}

/** Free text; `check` may refuse some values (it returns the reason). */
export function stringKind(opts: {
  placeholder: string;
  allowed: string;
  check?: (text: string) => string | undefined;
}): ValueKind<string> {
  return textOnly({
    placeholder: opts.placeholder,
    allowed: opts.allowed,
    fromText(text) {
      const reason = opts.check?.(text);
      if (reason !== undefined) throw new InvalidValue(reason);
      return text;
    },
    format: (value) => value,
    checkValue: (value) => problemIf(typeof value === 'string' ? opts.check?.(value) : `must be a string: ${opts.allowed}`),
  });
}

/**
 * A list of strings: repeatable flag and/or comma-separated text, a YAML
 * sequence (or one comma-separated string). `checkItem` returns why an item
 * is refused (naming the item), or undefined.
 */
export function listKind(opts: {
  placeholder: string;
  allowed: string;
  checkItem?: (item: string) => string | undefined;
}): ValueKind<string[]> {
  const checked = (items: string[]): string[] => {
    for (const item of items) {
      const reason = opts.checkItem?.(item);
      if (reason !== undefined) throw new InvalidValue(reason);
    }
    return items;
  };
  return {
    placeholder: opts.placeholder,
    allowed: opts.allowed,
    isList: true,
    fromText: (text) => checked(splitList(text)),
    fromYaml(value) {
      if (typeof value === 'string') return this.fromText(value);
      if (Array.isArray(value) && value.every((item): item is string => typeof item === 'string')) {
        return checked(value.map((item) => item.trim()).filter((item) => item !== ''));
      }
      throw new InvalidValue(`must be a list of strings: ${opts.allowed}`);
    },
    format: (value) => value.join(','),
    checkValue(value) {
      if (!Array.isArray(value)) return [{ reason: `must be an array of ${opts.allowed}` }];
      return value.flatMap((item: unknown): ValueProblem[] => {
        const reason = typeof item === 'string' ? opts.checkItem?.(item) : 'must be a string';
        return reason === undefined ? [] : [{ item, reason }];
      });
    },
  };
}

export function splitList(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** Where to listen: `host:port`, `:port` (all addresses) or `[ipv6]:port`. */
export interface ListenAddress {
  /** Empty = all addresses. */
  host: string;
  port: number;
}

export const listenAddressKind: ValueKind<ListenAddress> = textOnly({
  placeholder: 'host:port',
  allowed: 'host:port, :port (all addresses) or [ipv6]:port, with a port from 0 to 65535',
  fromText(text) {
    const match = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
    if (!match) throw new InvalidValue('must be host:port, :port or [ipv6]:port (e.g. :8081, 127.0.0.1:8081, [::1]:8081)');
    const host = match[1] ?? match[2] ?? '';
    const port = Number(match[3]);
    if (port > 65535) throw new InvalidValue(`port ${port} is out of range: must be from 0 to 65535`);
    if (match[1] !== undefined && isIP(host) !== 6) throw new InvalidValue(`"${host}" in brackets must be an IPv6 address`);
    if (checkListenHost(host) !== undefined) throw new InvalidValue(`"${host}" is neither an IP address nor a host name`);
    return { host, port };
  },
  format: (value) => `${value.host.includes(':') ? `[${value.host}]` : value.host}:${value.port}`,
  checkValue: (value) => {
    if (typeof value !== 'object' || value === null) return [{ reason: 'must be { host, port }' }];
    const { host, port } = value as Partial<ListenAddress>;
    return problemIf(
      typeof host !== 'string' || checkListenHost(host) !== undefined
        ? 'host must be an IP address or a host name (empty = all addresses)'
        : isIntegerIn(port, 0, 65535)
          ? undefined
          : 'port must be an integer from 0 to 65535',
    );
  },
});
