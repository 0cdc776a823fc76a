import fs from 'node:fs';
import YAML from 'yaml';

/**
 * Component configuration from command-line flags, environment variables and
 * a YAML/JSON config file, with the precedence
 *
 *   defaults < config file < environment < flags
 *
 * Flags are declared in kebab-case with the names the ecosystem uses
 * (etcd's `--data-dir`, kube-apiserver's `--etcd-servers`), accepted as
 * `--name value` or `--name=value`. The environment variable of a flag is
 * `<PREFIX>_<NAME>` in upper snake case (etcd's convention: `ETCD_DATA_DIR`).
 * A config file holds the same names as keys (kebab-case or camelCase).
 */

export type FlagType = 'string' | 'number' | 'boolean' | 'list' | 'duration';

interface FlagBase {
  description: string;
  /** Override the environment variable name, or false for none. */
  env?: string | false;
  /** Never printed or logged (passwords, tokens). */
  secret?: boolean;
  required?: boolean;
}

export type FlagSpec =
  | (FlagBase & { type: 'string'; default?: string; choices?: readonly string[] })
  | (FlagBase & { type: 'number'; default?: number; integer?: boolean; min?: number; max?: number })
  | (FlagBase & { type: 'boolean'; default?: boolean })
  | (FlagBase & { type: 'list'; default?: readonly string[] })
  /** A duration such as "40s", "5m", "1h30m", "250ms"; a bare number means milliseconds. Value: milliseconds. */
  | (FlagBase & { type: 'duration'; default?: number | string });

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

type CamelCase<S extends string> = S extends `${infer Head}-${infer Tail}` ? `${Head}${Capitalize<CamelCase<Tail>>}` : S;

type ValueOf<F extends FlagSpec> = F['type'] extends 'string'
  ? string
  : F['type'] extends 'number' | 'duration'
    ? number
    : F['type'] extends 'boolean'
      ? boolean
      : string[];

type HasValue<F extends FlagSpec> = F extends { default: unknown } ? true : F extends { required: true } ? true : F['type'] extends 'boolean' | 'list' ? true : false;

/** The parsed configuration: camelCase keys; flags without a default and not required may be undefined. */
export type ConfigOf<S extends FlagSpecs> = {
  -readonly [K in keyof S & string as CamelCase<K>]: HasValue<S[K]> extends true ? ValueOf<S[K]> : ValueOf<S[K]> | undefined;
};

export function camelCase(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

function envName(prefix: string | undefined, flag: string, spec: FlagSpec): string | undefined {
  if (spec.env === false) return undefined;
  if (typeof spec.env === 'string') return spec.env;
  if (!prefix) return undefined;
  return `${prefix}_${flag.replace(/-/g, '_').toUpperCase()}`;
}

/** A bad flag, env var or config file: the message says which and why. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** Parse a Go-style duration ("1h30m", "40s", "250ms") or a bare number of milliseconds. */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(trimmed); m; m = re.exec(trimmed)) {
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    matched = re.lastIndex;
  }
  if (matched !== trimmed.length || trimmed.length === 0) throw new Error(`invalid duration "${text}"`);
  return total;
}

function convert(flag: string, spec: FlagSpec, raw: unknown, source: string): unknown {
  const where = `${source}: --${flag}`;
  switch (spec.type) {
    case 'string': {
      if (typeof raw !== 'string' && typeof raw !== 'number') throw new ConfigError(`${where}: expected a string`);
      const value = String(raw);
      if (spec.choices && !spec.choices.includes(value)) {
        throw new ConfigError(`${where}: "${value}" is not one of ${spec.choices.join(', ')}`);
      }
      return value;
    }
    case 'number': {
      const value = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      if (!Number.isFinite(value)) throw new ConfigError(`${where}: "${String(raw)}" is not a number`);
      if (spec.integer && !Number.isInteger(value)) throw new ConfigError(`${where}: "${String(raw)}" is not an integer`);
      if (spec.min !== undefined && value < spec.min) throw new ConfigError(`${where}: ${value} is below the minimum ${spec.min}`);
      if (spec.max !== undefined && value > spec.max) throw new ConfigError(`${where}: ${value} is above the maximum ${spec.max}`);
      return value;
    }
    case 'boolean': {
      if (typeof raw === 'boolean') return raw;
      const text = String(raw).toLowerCase();
      if (['true', '1', 'yes', 'on', ''].includes(text)) return true;
      if (['false', '0', 'no', 'off'].includes(text)) return false;
      throw new ConfigError(`${where}: "${String(raw)}" is not a boolean`);
    }
    case 'list': {
      if (Array.isArray(raw)) return raw.map((v) => String(v));
      if (typeof raw !== 'string') throw new ConfigError(`${where}: expected a comma-separated list`);
      return raw
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v.length > 0);
    }
    case 'duration': {
      if (typeof raw === 'number') return raw;
      try {
        return parseDuration(String(raw));
      } catch (err) {
        throw new ConfigError(`${where}: ${(err as Error).message} (use e.g. 250ms, 40s, 5m, 1h30m)`);
      }
    }
  }
}

export interface ParseOptions {
  /** Arguments after the program name. Default process.argv.slice(2). */
  argv?: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** Environment variable prefix, e.g. "ETCD" or "KUBETS_SCHEDULER". */
  envPrefix?: string;
  /**
   * Name of the flag that points at a config file (declared automatically),
   * e.g. "config" or "config-file". Default "config".
   */
  configFlag?: string;
}

export interface ParseResult<S extends FlagSpecs> {
  config: ConfigOf<S>;
  /** Arguments that are not flags, in order. */
  positionals: string[];
  /** --help was given. */
  help: boolean;
  /** --version was given. */
  version: boolean;
}

/** Parse and validate flags, env and config file against `specs`. Throws ConfigError. */
export function parseFlags<S extends FlagSpecs>(specs: S, options: ParseOptions = {}): ParseResult<S> {
  const argv = options.argv ?? process.argv.slice(2);
  const env = options.env ?? process.env;
  const configFlag = options.configFlag ?? 'config';
  const fromFlags = new Map<string, unknown>();
  const positionals: string[] = [];
  let help = false;
  let version = false;
  let configPath: string | undefined;

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-h' || arg === '--help') {
      help = true;
      continue;
    }
    if (arg === '--version') {
      version = true;
      continue;
    }
    if (!arg.startsWith('--')) {
      if (arg.startsWith('-') && arg.length > 1) throw new ConfigError(`unknown shorthand flag: ${arg}`);
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    let value: string | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
    if (name === configFlag) {
      if (value === undefined) value = argv[++i];
      if (value === undefined) throw new ConfigError(`flag needs an argument: --${name}`);
      configPath = value;
      continue;
    }
    const spec = specs[name];
    if (!spec) throw new ConfigError(`unknown flag: --${name}`);
    if (value === undefined) {
      if (spec.type === 'boolean') {
        value = 'true';
      } else {
        value = argv[++i];
        if (value === undefined) throw new ConfigError(`flag needs an argument: --${name}`);
      }
    }
    const converted = convert(name, spec, value, 'flag');
    // A repeated list flag accumulates, as with kubectl/kubelet list flags.
    const previous = fromFlags.get(name);
    fromFlags.set(name, spec.type === 'list' && Array.isArray(previous) ? [...previous, ...(converted as string[])] : converted);
  }

  if (configPath === undefined && options.envPrefix) {
    const envConfig = env[`${options.envPrefix}_${configFlag.replace(/-/g, '_').toUpperCase()}`];
    if (envConfig) configPath = envConfig;
  }
  const fromFile = new Map<string, unknown>();
  if (configPath !== undefined) {
    let parsed: unknown;
    try {
      parsed = YAML.parse(fs.readFileSync(configPath, 'utf8'));
    } catch (err) {
      throw new ConfigError(`config file ${configPath}: ${(err as Error).message}`);
    }
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== 'object' || Array.isArray(parsed)) {
        throw new ConfigError(`config file ${configPath}: expected a mapping of flag names to values`);
      }
      const byCamel = new Map(Object.keys(specs).map((k) => [camelCase(k), k]));
      for (const [key, raw] of Object.entries(parsed as Record<string, unknown>)) {
        const flag = specs[key] ? key : byCamel.get(key);
        if (!flag) throw new ConfigError(`config file ${configPath}: unknown field "${key}"`);
        fromFile.set(flag, convert(flag, specs[flag]!, raw, `config file ${configPath}`));
      }
    }
  }

  const config: Record<string, unknown> = {};
  for (const [flag, spec] of Object.entries(specs)) {
    let value: unknown;
    if (fromFlags.has(flag)) value = fromFlags.get(flag);
    else {
      const name = envName(options.envPrefix, flag, spec);
      const raw = name ? env[name] : undefined;
      if (raw !== undefined && raw !== '') value = convert(flag, spec, raw, `env ${name}`);
      else if (fromFile.has(flag)) value = fromFile.get(flag);
      else if (spec.default !== undefined) value = convert(flag, spec, spec.default, 'default');
      else if (spec.type === 'boolean') value = false;
      else if (spec.type === 'list') value = [];
    }
    if (value === undefined && spec.required && !help && !version) throw new ConfigError(`required flag --${flag} is not set`);
    config[camelCase(flag)] = value;
  }
  return { config: config as ConfigOf<S>, positionals, help, version };
}

/** cobra-style usage text. */
export function usage(program: string, summary: string, specs: FlagSpecs, options: Pick<ParseOptions, 'envPrefix' | 'configFlag'> = {}): string {
  const rows: Array<[string, string]> = [];
  for (const [flag, spec] of Object.entries(specs)) {
    const arg = spec.type === 'boolean' ? '' : spec.type === 'list' ? ' strings' : spec.type === 'duration' ? ' duration' : ` ${spec.type}`;
    let text = spec.description;
    if (spec.default !== undefined && !spec.secret) {
      const shown = Array.isArray(spec.default) ? spec.default.join(',') : String(spec.default);
      text += ` (default ${spec.type === 'string' ? JSON.stringify(shown) : shown})`;
    }
    const env = envName(options.envPrefix, flag, spec);
    if (env) text += ` [$${env}]`;
    rows.push([`--${flag}${arg}`, text]);
  }
  rows.push([`--${options.configFlag ?? 'config'} string`, 'YAML or JSON file with flag values (keys are flag names)']);
  rows.push(['-h, --help', `help for ${program}`]);
  rows.push(['--version', 'print the version and exit']);
  const width = Math.max(...rows.map(([f]) => f.length)) + 3;
  return `${summary}\n\nUsage:\n  ${program} [flags]\n\nFlags:\n${rows.map(([f, t]) => `  ${f.padEnd(width)}${t}`).join('\n')}\n`;
}

/** The configuration with secret flags replaced, fit for logging. */
export function redactConfig<S extends FlagSpecs>(specs: S, config: ConfigOf<S>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [flag, spec] of Object.entries(specs)) {
    const key = camelCase(flag);
    const value = (config as Record<string, unknown>)[key];
    out[key] = spec.secret && value !== undefined && value !== '' ? '[REDACTED]' : value;
  }
  return out;
}
