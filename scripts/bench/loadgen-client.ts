// Harness side of the load generator: starts scripts/bench/loadgen.ts pinned to the load core and sends it
// commands over the IPC channel.
import { type ChildProcess, spawn } from 'node:child_process';
import type { LoadCommand } from './loadgen.js';
import { LOADGEN_CORE, pinned } from './servers/common.js';

interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

export class LoadGen {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (m: Reply) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.ok) w.resolve(m.result);
      else w.reject(new Error(`load generator: ${m.error}`));
    });
    child.on('exit', (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`load generator exited (${code})`));
      this.waiting.clear();
    });
  }

  static async start(repo: string): Promise<LoadGen> {
    const [exe, argv] = pinned(LOADGEN_CORE, process.execPath, [
      '--max-semi-space-size=64',
      '--import',
      'tsx',
      'scripts/bench/loadgen.ts',
    ]);
    const child = spawn(exe, argv, {
      cwd: repo,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const gen = new LoadGen(child);
    await new Promise<void>((resolve, reject) => {
      gen.waiting.set(0, { resolve: () => resolve(), reject });
      child.once('error', reject);
    });
    return gen;
  }

  send<T>(command: LoadCommand, timeoutMs = 600_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`load generator: ${command.cmd} timed out`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.send({ id, command });
    });
  }

  async exit(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    try {
      await this.send({ cmd: 'exit' }, 10_000);
    } catch {
      this.child.kill('SIGKILL');
    }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}
