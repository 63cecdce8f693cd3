// A private biboumi 9 (Debian), the XMPP–IRC gateway, attached to a test Switchboard as an XEP-0114 component.
//
// biboumi reads `option=value` lines from the file given as its only argument. It connects once to the component
// port and exits when that fails or the stream ends, so it is started after the server listens. identd_port=0
// keeps it off port 113; the SQLite database (per-user IRC server settings from the `configure` ad-hoc command)
// and the TLS policy directory live in a temporary directory.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tail } from './peer.js';
import { poll, type SpawnedProcess, spawnLogged } from './system.js';

const BIBOUMI = '/usr/bin/biboumi';

/** Why biboumi cannot be used here, or undefined when it can. */
export function biboumiMissing(): string | undefined {
  if (!existsSync(BIBOUMI)) return `biboumi is not installed (apt-get install biboumi): no ${BIBOUMI}`;
  // biboumi has no --version; an unknown option makes it print a usage line and exit, which proves it runs.
  const r = spawnSync(BIBOUMI, ['--no-such-option'], { encoding: 'utf8', timeout: 5000 });
  if (r.error) return `${BIBOUMI} does not run: ${r.error.message}`;
  return undefined;
}

export interface BiboumiOptions {
  /** The component domain it serves (`hostname`). */
  domain: string;
  /** The XEP-0114 shared secret (`password`). */
  secret: string;
  /** Switchboard's component port. */
  port: number;
}

export interface BiboumiPeer {
  readonly dir: string;
  /** Whether the process is still running. */
  running(): boolean;
  log(): string;
  /** SIGTERM (biboumi then says goodbye to IRC servers, for up to 2 s), SIGKILL if it lingers. */
  stop(): Promise<void>;
  /** Stops it and removes its directory. */
  cleanup(): Promise<void>;
}

/** Starts biboumi and resolves once Switchboard accepted its handshake (it logs "Authenticated"). */
export async function startBiboumi(opts: BiboumiOptions): Promise<BiboumiPeer> {
  const dir = mkdtempSync(join(tmpdir(), 'sb-biboumi-'));
  const cfg = join(dir, 'biboumi.cfg');
  const logFile = join(dir, 'biboumi.log');
  writeFileSync(
    cfg,
    [
      `hostname=${opts.domain}`,
      `password=${opts.secret}`,
      'xmpp_server_ip=127.0.0.1',
      `port=${opts.port}`,
      'identd_port=0',
      // 0 = debug: every XMPP and IRC line is logged, which is what a failing test needs to show.
      'log_level=0',
      `db_name=${join(dir, 'biboumi.sqlite')}`,
      `policy_directory=${dir}`,
      'realname_customization=true',
      '',
    ].join('\n'),
  );
  const proc: SpawnedProcess = spawnLogged(BIBOUMI, [cfg], { cwd: dir, logFile });
  const read = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  try {
    await poll(
      () => {
        if (read().includes('Authenticated with the XMPP server')) return true;
        if (!proc.running()) throw new Error(`biboumi exited before authenticating:\n${tail(logFile)}`);
        return false;
      },
      10_000,
      'biboumi to authenticate as a component',
    );
  } catch (err) {
    await proc.stop(3000);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    dir,
    running: () => proc.running(),
    log: () => tail(logFile, 80),
    stop: () => proc.stop(4000),
    cleanup: async () => {
      await proc.stop(4000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
