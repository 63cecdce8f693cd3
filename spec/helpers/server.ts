// Starts a real Switchboard on loopback with ephemeral ports for tests (DESIGN §8).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../../server/config/index.js';
import { Server } from '../../server/core/server.js';
import { moduleSchemas } from '../../server/modules/registry.js';
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
}

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'sb-test-'));
  const text = [
    opts.hostsYaml ?? 'hosts:\n  localhost: {}',
    'listeners:',
    '  - { type: c2s, address: 127.0.0.1, port: 0, tls: starttls }',
    '  - { type: c2s, address: 127.0.0.1, port: 0, tls: direct }',
    '  - { type: http, address: 127.0.0.1, port: 0 }',
    `data_dir: ${JSON.stringify(dataDir)}`,
    opts.sqlite
      ? `storage: { driver: sqlite, path: ${JSON.stringify(join(dataDir, 'switchboard.sqlite'))} }`
      : 'storage: { driver: memory }',
    opts.yaml ?? '',
  ].join('\n');
  const config = loadConfig({ text, moduleSchemas: moduleSchemas() });
  const level = (process.env.SB_TEST_LOG as pino.Level | undefined) ?? 'silent';
  const storage = opts.sqlite ? undefined : (opts.storage ?? createMemoryStorage());
  const server = await Server.create({ config, log: pino({ level }), ...(storage ? { storage } : {}) });
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
