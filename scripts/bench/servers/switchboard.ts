// Switchboard under test: its own process (node --import tsx scripts/switchboard.ts start), SQLite storage
// (the default driver), STARTTLS with the shared certificate, the login throttle effectively off.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../../../server/config/index.js';
import { openStorage } from '../../../server/core/storage.js';
import { moduleSchemas } from '../../../server/modules/registry.js';
import {
  BENCH_DOMAIN,
  BENCH_HOST,
  type BenchUsers,
  contactsOf,
  freePort,
  type Launcher,
  processHandle,
  SERVER_CORE,
  type ServerHandle,
  type StartOptions,
  spawnPinned,
  waitForPort,
} from './common.js';

/** Beyond the core modules (iq, message, presence, roster, disco, legacy_session) that always load. */
export const SWITCHBOARD_MODULES = [
  'disco',
  'ping',
  'version',
  'time',
  'last',
  'private',
  'vcard',
  'offline',
  'blocking',
  'carbons',
  'csi',
  'sm',
];

/**
 * The server runs as `npm run build` would compile it (tsc), not through tsx: tsx's on-the-fly transform keeps
 * function names with a helper call on every closure it creates, which showed in profiles and is not what a
 * deployment runs. Type errors do not stop this build (--noCheck; the type check is npm test's job), so work in
 * progress elsewhere in the tree does not stop the bench; if tsc cannot emit at all, tsx is the fallback.
 */
function compile(repo: string): { entry: string[]; how: string } {
  const out = join(repo, '.tmp', 'bench-build');
  rmSync(out, { recursive: true, force: true });
  try {
    const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
    const flags = [
      '--outDir',
      out,
      '--noCheck',
      '--sourceMap',
      'false',
      '--tsBuildInfoFile',
      join(out, '.tsbuildinfo'),
    ];
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', ...flags], { cwd: repo, stdio: 'pipe' });
    return { entry: [join(out, 'scripts', 'switchboard.js')], how: 'tsc output' };
  } catch (err) {
    const text =
      err instanceof Error && 'stdout' in err ? String((err as { stdout: unknown }).stdout).slice(0, 500) : String(err);
    console.warn(`tsc could not build the server, falling back to tsx: ${text}`);
    return { entry: ['--import', 'tsx', 'scripts/switchboard.ts'], how: 'tsx' };
  }
}

/** V8 heap and external memory from Switchboard's own Prometheus endpoint (prom-client default metrics). */
async function nodeMemory(metricsPort: number): Promise<Record<string, number>> {
  const res = await fetch(`http://${BENCH_HOST}:${metricsPort}/metrics`);
  const text = await res.text();
  const read = (name: string): number =>
    Number(new RegExp(`^switchboard_${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return {
    heapUsed: read('nodejs_heap_size_used_bytes'),
    heapTotal: read('nodejs_heap_size_total_bytes'),
    external: read('nodejs_external_memory_bytes'),
  };
}

async function loopDelay(metricsPort: number): Promise<{ p50: number; p99: number; max: number }> {
  const res = await fetch(`http://${BENCH_HOST}:${metricsPort}/metrics`);
  const text = await res.text();
  const read = (name: string): number =>
    1000 * Number(new RegExp(`^switchboard_nodejs_eventloop_lag_${name}_seconds ([0-9.e+-]+)$`, 'm').exec(text)?.[1]);
  return { p50: read('p50'), p99: read('p99'), max: read('max') };
}

export function switchboardLauncher(opts: { repo: string; dir: string; cert: string; key: string }): Launcher {
  const dir = join(opts.dir, 'switchboard');
  mkdirSync(dir, { recursive: true });
  const configFile = join(dir, 'switchboard.yaml');
  let port = 0;
  let metricsPort = 0;
  let build: { entry: string[]; how: string } | null = null;

  const yaml = (p: number): string =>
    [
      // The same feature set in all three servers; MAM is left out everywhere (it is off by default in Prosody and
      // ejabberd, and archiving every message would measure storage writes, not routing).
      `hosts:\n  ${BENCH_DOMAIN}: { modules: [${SWITCHBOARD_MODULES.join(', ')}] }`,
      `listeners:\n  - { type: c2s, address: ${BENCH_HOST}, port: ${p}, tls: starttls }\n  - { type: http, address: ${BENCH_HOST}, port: ${metricsPort} }`,
      `tls: { cert: ${JSON.stringify(opts.cert)}, key: ${JSON.stringify(opts.key)}, self_signed: false }`,
      `storage: { driver: sqlite, path: ${JSON.stringify(join(dir, 'switchboard.sqlite'))} }`,
      `data_dir: ${JSON.stringify(join(dir, 'data'))}`,
      // A benchmark logs thousands of sessions in from one address: the failure throttle must never bite.
      'auth:\n  throttle: { max_failures: 100000000, window_seconds: 1, lockout_seconds: 0 }',
      `log: { level: warn, file: ${JSON.stringify(join(dir, 'switchboard.log'))} }`,
    ].join('\n');

  return {
    name: 'switchboard',
    version() {
      const pkg = JSON.parse(readFileSync(join(opts.repo, 'package.json'), 'utf8')) as { version: string };
      return `${pkg.version} (Node ${process.versions.node}${build ? `, ${build.how}` : ''})`;
    },

    async prepare(users: BenchUsers) {
      build = compile(opts.repo);
      port = await freePort();
      metricsPort = await freePort();
      writeFileSync(configFile, yaml(port));
      const config = loadConfig({ file: configFile, moduleSchemas: moduleSchemas() });
      const storage = await openStorage(config, pino({ level: 'warn' }));
      try {
        const c = users.credentials;
        const cred = (k: { storedKey: Buffer; serverKey: Buffer }) => ({
          salt: Buffer.from(c.salt, 'ascii'),
          iterations: c.iterations,
          ...k,
        });
        const scram = { sha1: cred(c.sha1), sha256: cred(c.sha256) };
        const all = [...users.general, ...users.presence].map((username) => ({ username, scram }));
        await storage.accounts.createMany(BENCH_DOMAIN, all);
        // The roster module keeps one keyval document 'roster' per user (server/modules/rfc6121-roster/codec.ts).
        const rosters = storage.keyval<unknown>('roster');
        for (const [i, user] of users.presence.entries()) {
          const items: Record<string, { subscription: 'both'; groups: string[] }> = {};
          for (const contact of contactsOf(users, i))
            items[`${contact}@${BENCH_DOMAIN}`] = { subscription: 'both', groups: [] };
          await rosters.set(BENCH_DOMAIN, user, { ver: 1, items, pending: {} });
        }
      } finally {
        await storage.close();
      }
    },

    async start(startOpts: StartOptions = {}): Promise<ServerHandle> {
      const nodeArgs = [
        ...(startOpts.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', startOpts.cpuProfDir] : []),
        ...(startOpts.nodeArgs ?? []),
      ];
      const child = spawnPinned(
        SERVER_CORE,
        process.execPath,
        [
          ...nodeArgs,
          ...(build?.entry ?? ['--import', 'tsx', 'scripts/switchboard.ts']),
          'start',
          '--config',
          configFile,
        ],
        { cwd: opts.repo, log: join(dir, 'stdout.log') },
      );
      await waitForPort(port, 60_000, child);
      return {
        ...processHandle('switchboard', child, port, 'xmpp'),
        memoryDetail: () => nodeMemory(metricsPort),
        loopDelay: () => loopDelay(metricsPort),
      };
    },
  };
}
