// pino factory (DESIGN §7). JSON lines only: pretty-printing is left to tools that read the log, so the server
// carries no formatting dependency and one log format serves operators and log shippers alike.
import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger };

export interface LoggerOptions {
  /** pino level name: fatal, error, warn, info, debug, trace or silent. */
  level: string;
  /** Append to this file (created with its directories) instead of writing to stdout. */
  file?: string;
}

/**
 * Fields never written to a log: credentials and SASL exchanges (they carry password proofs), and stanza
 * payloads, whose content is private to the users. Matching is by key name at the top level or one level down.
 */
export const REDACTED_PATHS = [
  'password',
  '*.password',
  'payload',
  '*.payload',
  'sasl',
  '*.sasl',
  'authorization',
  '*.authorization',
  // XEP-0114 component secrets and handshake digests (a digest and its stream id allow offline guessing).
  'secret',
  '*.secret',
  'handshake',
  '*.handshake',
];

/** `destination` overrides stdout / `file`; tests pass a stream to read the lines back. */
export function createLogger(opts: LoggerOptions, destination?: DestinationStream): Logger {
  const dest = destination ?? (opts.file ? pino.destination({ dest: opts.file, mkdir: true, sync: false }) : undefined);
  const options = {
    level: opts.level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    // Level names and ISO times read well without a pretty-printer.
    formatters: { level: (label: string) => ({ level: label }) },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return dest ? pino(options, dest) : pino(options);
}
