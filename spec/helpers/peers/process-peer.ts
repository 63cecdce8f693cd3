// The process life cycle Prosody and ejabberd peers share: one child process started by the subclass, stopped by
// its PID (SIGTERM, then SIGKILL), paused with SIGSTOP to play a frozen server, and a private directory removed
// on cleanup unless SB_PEER_KEEP=1 (to read its logs after a failure).
import { rmSync } from 'node:fs';
import { type PeerOptions, tail } from './peer.js';
import { releaseLoopback, type SpawnedProcess, waitForTcpClosed } from './system.js';

export abstract class ProcessPeer {
  readonly s2sPort = 5269;
  abstract readonly address: string;
  abstract readonly dir: string;
  abstract readonly logFile: string;
  protected proc: SpawnedProcess | undefined;
  /** Undoes /etc/hosts entries the peer needed (see system.ts `mapHosts`). */
  protected releaseHosts: (() => void) | undefined;

  protected constructor(
    readonly opts: PeerOptions,
    /** How long `stop()` waits after SIGTERM for a clean shutdown before SIGKILL. */
    private readonly stopTimeoutMs: number,
  ) {}

  get domain(): string {
    return this.opts.domain;
  }

  get pid(): number | undefined {
    return this.proc?.running() ? this.proc.pid : undefined;
  }

  running(): boolean {
    return this.proc?.running() ?? false;
  }

  /** (Re)starts with the same config and data; resolves when ready. */
  abstract start(): Promise<void>;

  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    this.proc = undefined;
    await proc.stop(this.stopTimeoutMs);
    await waitForTcpClosed(this.address, this.s2sPort, 5_000);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  pause(): void {
    if (this.proc?.running()) process.kill(this.proc.pid, 'SIGSTOP');
  }

  resume(): void {
    if (this.proc?.running()) process.kill(this.proc.pid, 'SIGCONT');
  }

  async cleanup(): Promise<void> {
    try {
      await this.stop();
    } finally {
      this.releaseHosts?.();
      this.releaseHosts = undefined;
      releaseLoopback(this.address);
      if (process.env.SB_PEER_KEEP !== '1') rmSync(this.dir, { recursive: true, force: true });
    }
  }

  log(): string {
    return tail(this.logFile);
  }
}
