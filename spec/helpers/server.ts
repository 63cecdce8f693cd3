// Starts a real Switchboard on loopback with ephemeral ports for tests (DESIGN §8).
import { mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { DriverDefinition } from '../../gateways/core/driver.js';
import { loadConfig } from '../../server/config/index.js';
import type { ModuleDefinition } from '../../server/core/module.js';
import { Server } from '../../server/core/server.js';
import { MODULES, moduleSchemas } from '../../server/modules/registry.js';
import type { StorageDriver } from '../../storage/api/index.js';
import { createMemoryStorage } from '../../storage/memory/index.js';

export interface TestServer {
  server: Server;
  /** STARTTLS c2s port. */
  port: number;
  /** Direct TLS c2s port (XEP-0368). */
  tlsPort: number;
  httpPort: number;
  dataDir: string;
  addUser(user: string, password: string, host?: string): Promise<void>;
  stop(): Promise<void>;
}

export interface TestServerOptions {
  /** Extra YAML appended to the generated config (hosts, modules, limits …). */
  yaml?: string;
  /** Replaces the default `hosts:` block. */
  hostsYaml?: string;
  storage?: StorageDriver;
  /** Use a SQLite file (created in dataDir) instead of memory storage; restart with the same dataDir to reopen it. */
  sqlite?: boolean;
  dataDir?: string;
  /** Extra listener entries (YAML flow mappings) added after the default ones, e.g. `{ type: component, port: 0 }`. */
  listeners?: string[];
  /** Gateway drivers to offer instead of gateways/registry.ts (the framework's loopback driver). */
  gatewayDrivers?: readonly DriverDefinition[];
  /** Modules loaded after the registry's, e.g. a test-only module that provokes a fault. */
  extraModules?: readonly ModuleDefinition[];
}

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'sb-test-'));
  const text = [
    opts.hostsYaml ?? 'hosts:\n  localhost: {}',
    'listeners:',
    '  - { type: c2s, address: 127.0.0.1, port: 0, tls: starttls }',
    '  - { type: c2s, address: 127.0.0.1, port: 0, tls: direct }',
    '  - { type: http, address: 127.0.0.1, port: 0 }',
    ...(opts.listeners ?? []).map((l) => `  - ${l}`),
    `data_dir: ${JSON.stringify(dataDir)}`,
    opts.sqlite
      ? `storage: { driver: sqlite, path: ${JSON.stringify(join(dataDir, 'switchboard.sqlite'))} }`
      : 'storage: { driver: memory }',
    opts.yaml ?? '',
    // Federation stays off unless a spec asks for it (an s2s listener or an `s2s:` section), so that specs
    // addressing other domains never dial the network (docs/federation.md).
    federationWanted(opts) ? '' : 's2s: { enabled: false }',
  ].join('\n');
  const config = loadConfig({ text, moduleSchemas: moduleSchemas() });
  const level = (process.env.SB_TEST_LOG as pino.Level | undefined) ?? 'silent';
  const storage = opts.sqlite ? undefined : (opts.storage ?? createMemoryStorage());
  const server = await Server.create({
    config,
    log: pino({ level }),
    ...(storage ? { storage } : {}),
    ...(opts.gatewayDrivers ? { gatewayDrivers: opts.gatewayDrivers } : {}),
    ...(opts.extraModules ? { modules: [...MODULES, ...opts.extraModules] } : {}),
  });
  await server.start();
  return {
    server,
    port: server.port('c2s', 'starttls'),
    tlsPort: server.port('c2s', 'direct'),
    httpPort: server.port('http'),
    dataDir,
    addUser: (user, password, host = 'localhost') => server.accounts.create(host, user, password),
    stop: async () => {
      await server.stop();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function federationWanted(opts: TestServerOptions): boolean {
  return (opts.listeners ?? []).some((l) => /type:\s*s2s\b/.test(l)) || /^s2s:/m.test(opts.yaml ?? '');
}

/** A TCP port that was free a moment ago, for configs that must name a peer's port before it starts. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}
