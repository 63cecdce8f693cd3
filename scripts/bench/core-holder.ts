// Holds cores for the benchmark while latency is measured. On a machine shared with other work, a server that
// sleeps between messages must preempt whatever runs on its core when a message arrives, and the scheduler's
// wake-up delay (milliseconds) would be measured as latency. A busy loop at the lowest priority inside the
// bench's own session keeps the cores with the session; the server and the generator preempt it at once.
import { type ChildProcess, spawn } from 'node:child_process';

export class CoreHolder {
  private readonly children: ChildProcess[] = [];

  static start(cores: string[]): CoreHolder {
    const h = new CoreHolder();
    for (const core of cores) {
      // SCHED_IDLE (chrt -i) rather than only nice 19: the scheduler preempts an idle-policy task as soon as any
      // other task on the core wakes, where a nice 19 task may first finish its slice (EEVDF run-to-parity). In a
      // ping-pong between two pinned processes that took the round trip's p99 from 0.2–1.2 ms to 0.17 ms.
      const child = spawn(
        'taskset',
        ['-c', core, 'chrt', '-i', '0', 'nice', '-n', '19', process.execPath, '-e', 'for (;;) {}'],
        { stdio: 'ignore' },
      );
      h.children.push(child);
    }
    return h;
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGTERM');
          }),
      ),
    );
  }
}
