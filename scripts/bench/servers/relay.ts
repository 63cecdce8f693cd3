// Launches scripts/bench/relay.ts (the limit line) pinned like the servers.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BENCH_HOST,
  freePort,
  type Launcher,
  processHandle,
  SERVER_CORE,
  type ServerHandle,
  sleep,
  spawnPinned,
  waitForPort,
} from './common.js';

export function relayLauncher(opts: { repo: string; dir: string; cert: string; key: string }): Launcher {
  let port = 0;
  const statsFile = join(opts.dir, 'relay-stats.json');
  /** Asks the relay for its event-loop delay since the previous call (SIGUSR2, see relay.ts). */
  const loopDelay = async (pid: number): Promise<{ p50: number; p99: number; max: number }> => {
    const before = existsSync(statsFile) ? readFileSync(statsFile, 'utf8') : '';
    process.kill(pid, 'SIGUSR2');
    for (let i = 0; i < 100; i++) {
      await sleep(20);
      const now = existsSync(statsFile) ? readFileSync(statsFile, 'utf8') : '';
      if (now !== before && now !== '') {
        const s = JSON.parse(now) as { loop: { p50: number; p99: number; max: number } };
        return s.loop;
      }
    }
    return { p50: Number.NaN, p99: Number.NaN, max: Number.NaN };
  };
  return {
    name: 'relay',
    version: () => `Node ${process.versions.node}`,
    async prepare() {
      port = await freePort();
    },
    async start(): Promise<ServerHandle> {
      const args = [
        '--import',
        'tsx',
        'scripts/bench/relay.ts',
        '--port',
        String(port),
        '--host',
        BENCH_HOST,
        '--cert',
        opts.cert,
        '--key',
        opts.key,
        '--stats',
        statsFile,
      ];
      const child = spawnPinned(SERVER_CORE, process.execPath, args, {
        cwd: opts.repo,
        log: join(opts.dir, 'relay.log'),
      });
      await waitForPort(port, 30_000, child);
      const handle = processHandle('relay', child, port, 'relay');
      return { ...handle, loopDelay: () => loopDelay(handle.pid) };
    },
  };
}
