// The one logger of the process: pino, JSON lines (to stdout unless a destination is given).
// Secrets never reach the log: fields that carry them are redacted at any depth up to four
// levels (pino's redaction works on explicit paths, one wildcard per level).

import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** [log] in postern.toml. */
export interface LogSettings {
  level: LogLevel;
}

/** Field names whose values are never logged. */
export const REDACTED_KEYS: readonly string[] = [
  'password',
  'pass',
  'newPassword',
  'passwordHash',
  'secret',
  'token',
  'authorization',
  'Authorization',
  'cookie',
  'credentials',
  'saslResponse',
  'authResponse',
  'initialResponse',
  'privateKey',
];

const MAX_DEPTH = 4;

function redactPaths(): string[] {
  const paths: string[] = [];
  for (const key of REDACTED_KEYS) {
    let prefix = '';
    for (let depth = 0; depth < MAX_DEPTH; depth++) {
      paths.push(prefix + key);
      prefix += '*.';
    }
  }
  return paths;
}

export interface CreateLoggerOptions {
  /** Where the JSON lines go (a pino destination, a file stream, a test sink); stdout by default. */
  destination?: DestinationStream;
  /** Fields added to every line. */
  base?: Record<string, unknown>;
}

export function createLogger(config: LogSettings, opts: CreateLoggerOptions = {}): Logger {
  const options = {
    level: config.level,
    base: { pid: process.pid, ...opts.base },
    redact: { paths: redactPaths(), censor: '[redacted]' },
  };
  // stdout by default, written asynchronously: a synchronous write per line costs the event
  // loop more than the SMTP transaction it logs (measured under smtp-source load).
  const destination = opts.destination ?? pino.destination({ dest: 1, sync: false });
  return pino(options, destination);
}
