// Runs the `switchboard` command line (scripts/switchboard.ts) as a child process, as an operator would.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI_SCRIPT = join(ROOT, 'scripts', 'switchboard.ts');
/** tsx's ESM loader by absolute URL, so the child can run from a directory without node_modules. */
const TSX_LOADER = import.meta.resolve('tsx');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface CliRunOptions {
  cwd: string;
  /** Written to standard input, which is then closed (a pipe: not a terminal). */
  input?: string;
  timeoutMs?: number;
}

function spawnCli(args: string[], cwd: string): ChildProcess {
  return spawn(process.execPath, ['--import', TSX_LOADER, CLI_SCRIPT, ...args], {
    cwd,
    env: { ...process.env, NODE_OPTIONS: '' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Runs one command to completion. */
export function runCli(args: string[], opts: CliRunOptions): Promise<CliResult> {
  const started = Date.now();
  const child = spawnCli(args, opts.cwd);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString('utf8');
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString('utf8');
  });
  child.stdin?.end(opts.input ?? '');
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise<CliResult>((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`switchboard ${args.join(' ')} did not finish within ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/**
 * Runs a command on a pseudo-terminal (through Python's pty module, spec/helpers/pty_run.py), typing each of
 * `answers` at a prompt: for the interactive password prompt, which only appears on a terminal.
 */
export function runCliOnTerminal(args: string[], answers: string[], opts: CliRunOptions): Promise<CliResult> {
  const started = Date.now();
  const child = spawn(
    '/usr/bin/python3',
    [
      join(ROOT, 'spec', 'helpers', 'pty_run.py'),
      ...answers,
      '--',
      process.execPath,
      '--import',
      TSX_LOADER,
      CLI_SCRIPT,
      ...args,
    ],
    { cwd: opts.cwd, env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString('utf8');
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString('utf8');
  });
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise<CliResult>((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`switchboard ${args.join(' ')} on a terminal did not finish within ${timeoutMs} ms\n${stdout}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** A long-running command (`start`) with helpers to await output and stop it. */
export class CliProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (d: Buffer) => {
      this.stdout += d.toString('utf8');
    });
    child.stderr?.on('data', (d: Buffer) => {
      this.stderr += d.toString('utf8');
    });
    this.exited = new Promise((r) => child.once('close', (code, signal) => r({ code, signal })));
  }

  /** Resolves with the first match of `re` in standard output, waiting for it to appear. */
  async waitForOutput(re: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const m = this.stdout.match(re);
      if (m) return m;
      if (this.child.exitCode !== null)
        throw new Error(`exited (${this.child.exitCode}):\n${this.stdout}\n${this.stderr}`);
      if (Date.now() > until)
        throw new Error(`no ${re} in output within ${timeoutMs} ms:\n${this.stdout}\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Sends SIGTERM and waits for the exit; SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

export function startCli(args: string[], cwd: string): CliProcess {
  const child = spawnCli(args, cwd);
  child.stdin?.end();
  return new CliProcess(child);
}

/**
 * A temporary directory with a `switchboard.yaml` using SQLite in that directory and ephemeral ports,
 * so that commands run there need no --config.
 */
export function makeCliDir(extraYaml = ''): { dir: string; dbPath: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sb-cli-'));
  const dbPath = join(dir, 'data', 'switchboard.sqlite');
  writeFileSync(
    join(dir, 'switchboard.yaml'),
    [
      'hosts:',
      '  localhost: {}',
      'listeners:',
      '  - { type: c2s, address: 127.0.0.1, port: 0, tls: starttls }',
      '  - { type: c2s, address: 127.0.0.1, port: 0, tls: direct }',
      '  - { type: http, address: 127.0.0.1, port: 0 }',
      'data_dir: data',
      'storage: { driver: sqlite, path: data/switchboard.sqlite }',
      'log: { level: warn }',
      extraYaml,
    ].join('\n'),
  );
  return { dir, dbPath };
}
