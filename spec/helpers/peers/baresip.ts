// baresip 1.0 (Debian) as a real softphone for the SIP gateway interop spec, in one-shot mode (PEERS.md):
// `baresip -f DIR -s -e "/message …" -t N` registers its account through the given proxy, sends the message to the
// current (first) contact, and quits after N seconds. Incoming MESSAGEs raise no event in 1.0, so the test reads
// them from the SIP trace (`-s`) on stdout. Audio devices are files, no ctrl_tcp; stopped by PID.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, poll, type SpawnedProcess, spawnLogged } from './system.js';

const BARESIP = '/usr/bin/baresip';

export function baresipMissing(): string | undefined {
  const r = spawnSync(BARESIP, ['-h'], { encoding: 'utf8' });
  if (r.error) return `baresip is not installed (apt-get install baresip): ${BARESIP} does not run`;
  if (!existsSync('/usr/lib/baresip/modules/menu.so')) return 'baresip modules are missing (/usr/lib/baresip/modules)';
  return undefined;
}

export interface BaresipOptions {
  /** The account: `sip:user@domain`, its password, and the proxy (registrar) it registers through. */
  aor: string;
  password: string;
  proxyPort: number;
  /** Contacts; the first one is the current contact, the target of `/message`. */
  contacts: string[];
  /** Commands run at start (`-e`), e.g. `/message hello`. */
  commands?: string[];
  /** Seconds before baresip quits (`-t`). */
  seconds: number;
}

export interface BaresipRun {
  readonly port: number;
  readonly process: SpawnedProcess;
  /** stdout/stderr so far: the SIP trace included. */
  output(): string;
  waitOutput(re: RegExp, timeoutMs: number, what: string): Promise<void>;
  cleanup(): Promise<void>;
}

export async function startBaresip(o: BaresipOptions): Promise<BaresipRun> {
  const dir = mkdtempSync(join(tmpdir(), 'sb-baresip-'));
  const port = await freePort();
  writeFileSync(
    join(dir, 'config'),
    [
      'poll_method epoll',
      `sip_listen 127.0.0.1:${port}`,
      'sip_trans_def udp',
      'audio_player aufile,/dev/null',
      'audio_source aufile,/dev/null',
      'audio_alert aufile,/dev/null',
      'module_path /usr/lib/baresip/modules',
      'module g711.so',
      'module aufile.so',
      'module_app account.so',
      'module_app contact.so',
      'module_app menu.so',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'accounts'),
    `<${o.aor}>;auth_pass=${o.password};outbound="sip:127.0.0.1:${o.proxyPort}";regint=60;answermode=manual\n`,
  );
  writeFileSync(join(dir, 'contacts'), `${o.contacts.map((c, i) => `"c${i}" <${c}>`).join('\n')}\n`);
  const logFile = join(dir, 'baresip.log');
  const args = ['-f', dir, '-s', ...(o.commands ?? []).flatMap((c) => ['-e', c]), '-t', String(o.seconds)];
  const proc = spawnLogged(BARESIP, args, { cwd: dir, logFile });
  const output = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  return {
    port,
    process: proc,
    output,
    waitOutput: (re, timeoutMs, what) =>
      poll(() => re.test(output()), timeoutMs, `baresip: ${what}`, 100).then(() => {}),
    cleanup: async () => {
      // `quit` lingers in 1.0 (PEERS.md): the process is stopped by its PID.
      await proc.stop(2000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
