import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * Paths pino removes from every log line, whatever the actor logs: passwords,
 * tokens, keys and authorization headers, at the top level and one or two
 * levels down.
 */
const SECRET_KEYS = [
  'password',
  'passwd',
  'token',
  'bearerToken',
  'secret',
  'authorization',
  'Authorization',
  'privateKey',
  'private_key',
  'clientKey',
  'tlsPrivateKey',
  'apiKey',
  'cookie',
];
export const REDACT_PATHS = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((k) => `*.${k}`),
  ...SECRET_KEYS.map((k) => `*.*.${k}`),
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
];

export interface LoggerOptions {
  /** Component name, e.g. "kubets-kv": the `name` field of every line. */
  name: string;
  /** trace | debug | info | warn | error | fatal | silent. Default info. */
  level?: string;
  /** Where lines go (default stdout). Tests pass a stream to capture them. */
  destination?: DestinationStream;
}

/** The JSON logger every kubets component uses. Give each actor `log.child({ actor })`. */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      base: { pid: process.pid },
    },
    options.destination ?? pino.destination({ fd: 1, sync: true }),
  );
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
