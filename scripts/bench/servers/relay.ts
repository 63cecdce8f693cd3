// Launches scripts/bench/relay.ts (the limit line) pinned like the servers.
import { join } from 'node:path';
import {
  BENCH_HOST,
  cpuMsOf,
  freePort,
  type Launcher,
  rssOf,
  SERVER_CORE,
  type ServerHandle,
  spawnPinned,
  stopChild,
  waitForPort,
  writtenBytesOf,
} from './common.js';

export function relayLauncher(opts: { repo: string; dir: string; cert: string; key: string }): Launcher {
  let port = 0;
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
      ];
      const child = spawnPinned(SERVER_CORE, process.execPath, args, {
        cwd: opts.repo,
        log: join(opts.dir, 'relay.log'),
      });
      await waitForPort(port, 30_000, child);
      const pid = child.pid as number;
      return {
        name: 'relay',
        pid,
        port,
        mode: 'relay',
        rss: () => rssOf(pid),
        cpuMs: () => cpuMsOf(pid),
        writtenBytes: () => writtenBytesOf(pid),
        stop: () => stopChild(child),
      };
    },
  };
}
