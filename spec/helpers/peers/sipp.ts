// SIPp 3.6 (Debian `sip-tester`) as a scripted SIP peer for the SIP gateway specs. Each run is one scenario from
// spec/interop/sipp/, one call (`-m 1`), bound to 127.0.0.1 with its own signalling and media ports, logging
// every message to a file the test can watch (to pace the XMPP side) and read on failure.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, poll, type SpawnedProcess, spawnLogged } from './system.js';

const SIPP = '/usr/bin/sipp';
export const SIPP_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'interop', 'sipp');

export function sippMissing(): string | undefined {
  const r = spawnSync(SIPP, ['-v'], { encoding: 'utf8' });
  if (r.error) return `sipp is not installed (apt-get install sip-tester): ${SIPP} does not run`;
  return undefined;
}

export interface SippOptions {
  /** Scenario file name in spec/interop/sipp/. */
  scenario: string;
  /** Where a UAC sends (`127.0.0.1:port`); absent for a UAS. */
  remote?: string;
  /** The local SIP port (default: a free one). */
  port?: number;
  /** `-key name value` pairs for the scenario's [name] keywords. */
  keys?: Record<string, string>;
  /** Seconds before sipp gives up (`-timeout`, counted as an error). */
  timeoutS?: number;
}

export interface SippRun {
  readonly port: number;
  readonly process: SpawnedProcess;
  /** Resolves with sipp's exit code (0: the scenario passed). */
  readonly exited: Promise<number | string>;
  /** Every SIP message sent and received so far (`-trace_msg`). */
  messages(): string;
  /** How many requests of `method` sipp has received so far. */
  received(method: string): number;
  /** Resolves once sipp has received `n` requests of `method`. */
  waitReceived(method: string, n: number, timeoutMs?: number): Promise<void>;
  /** The console and error output, for assertion messages. */
  log(): string;
  /** Stops sipp (if still running) and removes its directory. */
  cleanup(): Promise<void>;
}

export async function runSipp(o: SippOptions): Promise<SippRun> {
  const dir = mkdtempSync(join(tmpdir(), 'sb-sipp-'));
  const port = o.port ?? (await freePort());
  const media = await freePort();
  const msgFile = join(dir, 'messages.log');
  const errFile = join(dir, 'errors.log');
  const logFile = join(dir, 'console.log');
  const args = [
    ...(o.remote ? [o.remote] : []),
    '-sf',
    join(SIPP_DIR, o.scenario),
    '-i',
    '127.0.0.1',
    '-p',
    String(port),
    '-mp',
    String(media),
    '-m',
    '1',
    '-timeout',
    `${o.timeoutS ?? 20}s`,
    '-timeout_error',
    '-nostdin',
    '-trace_msg',
    '-message_file',
    msgFile,
    '-trace_err',
    '-error_file',
    errFile,
    ...Object.entries(o.keys ?? {}).flatMap(([k, v]) => ['-key', k, v]),
  ];
  // In the foreground (no -bg), so that the PID we stop is sipp's own.
  const proc = spawnLogged(SIPP, args, { cwd: dir, logFile });
  const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : '');
  const received = (method: string) =>
    (read(msgFile).match(new RegExp(`message received \\[\\d+\\] bytes :\\s+${method} `, 'g')) ?? []).length;
  return {
    port,
    process: proc,
    exited: proc.exited,
    messages: () => read(msgFile),
    received,
    waitReceived: async (method, n, timeoutMs = 10_000) => {
      await poll(() => received(method) >= n, timeoutMs, `sipp to receive ${n} ${method}`, 50);
    },
    log: () =>
      `${read(logFile).slice(-3000)}\n--- errors ---\n${read(errFile).slice(-3000)}\n--- messages ---\n${read(msgFile).slice(-6000)}`,
    cleanup: async () => {
      await proc.stop(2000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
