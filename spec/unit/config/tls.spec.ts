import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { pino } from 'pino';
import type { TlsConfig } from '../../../server/config/index.js';
import { SwitchboardError } from '../../../server/errors/index.js';
import {
  createSecureContexts,
  describeCertificate,
  loadTlsMaterial,
  type SecureContexts,
} from '../../../server/stream/tls-context.js';

const log = pino({ level: 'silent' });
const selfSigned: TlsConfig = { self_signed: true, min_version: 'TLSv1.2', require_c2s: true };

/**
 * The certificate CN a client sees when it connects with `servername` (no SNI when undefined), through
 * tls.createServer (direct TLS) or a TLSSocket wrapped around a plain socket (STARTTLS).
 */
async function servedCommonName(contexts: SecureContexts, servername?: string, starttls = false): Promise<string> {
  const server = starttls
    ? net.createServer((raw) => {
        const socket = new tls.TLSSocket(raw, { isServer: true, ...contexts.options });
        socket.once('secure', () => socket.end());
        socket.once('error', () => raw.destroy());
      })
    : tls.createServer(contexts.options, (socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise<string>((resolve, reject) => {
      const socket = tls.connect(
        { host: '127.0.0.1', port, ...(servername ? { servername } : {}), rejectUnauthorized: false },
        () => {
          const cn = socket.getPeerCertificate().subject.CN;
          socket.destroy();
          resolve(Array.isArray(cn) ? cn.join(',') : String(cn));
        },
      );
      socket.once('error', reject);
    });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('TLS material', function () {
  // RSA key generation takes a moment on slow machines.
  this.timeout(60_000);
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sb-tls-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('generates a self-signed certificate for every host and keeps the key private', async () => {
    const material = await loadTlsMaterial(selfSigned, dir, ['localhost', 'example.com'], log);
    const info = describeCertificate(material.default.cert);
    assert.deepEqual(info.sans, ['localhost', 'example.com']);
    assert.equal(info.selfSigned, true);
    assert.match(info.subject, /CN=localhost/);
    assert.ok(info.notAfter.getTime() > Date.now() + 9 * 365 * 24 * 3600 * 1000, 'valid for about ten years');
    assert.equal(await readFile(join(dir, 'tls', 'selfsigned.crt'), 'utf8'), material.default.cert);
    assert.equal(await readFile(join(dir, 'tls', 'selfsigned.key'), 'utf8'), material.default.key);
    if (process.platform !== 'win32') {
      assert.equal((await stat(join(dir, 'tls', 'selfsigned.key'))).mode & 0o777, 0o600);
    }
    assert.equal(material.perHost.size, 0);
  });

  it('reuses the kept certificate, and regenerates when a host is missing from it', async () => {
    const first = await loadTlsMaterial(selfSigned, dir, ['localhost'], log);
    const again = await loadTlsMaterial(selfSigned, dir, ['localhost'], log);
    assert.equal(again.default.cert, first.default.cert);
    const wider = await loadTlsMaterial(selfSigned, dir, ['localhost', 'chat.example'], log);
    assert.notEqual(wider.default.cert, first.default.cert);
    assert.deepEqual(describeCertificate(wider.default.cert).sans, ['localhost', 'chat.example']);
  });

  it('picks the per-host certificate by SNI and falls back to the default', async () => {
    const other = await loadTlsMaterial(selfSigned, join(dir, 'other'), ['other.example'], log);
    const cert = join(dir, 'other.crt');
    const key = join(dir, 'other.key');
    await writeFile(cert, other.default.cert);
    await writeFile(key, other.default.key);
    const hosts = ['localhost', 'other.example'];
    const material = await loadTlsMaterial(selfSigned, dir, hosts, log, { 'other.example': { tls: { cert, key } } });
    assert.deepEqual([...material.perHost.keys()], ['other.example']);
    const contexts = createSecureContexts(material, { min_version: 'TLSv1.2' });
    assert.equal(await servedCommonName(contexts, 'other.example'), 'other.example');
    assert.equal(await servedCommonName(contexts, 'OTHER.example.'), 'other.example');
    assert.equal(await servedCommonName(contexts, 'localhost'), 'localhost');
    assert.equal(await servedCommonName(contexts), 'localhost');
    assert.equal(await servedCommonName(contexts, 'other.example', true), 'other.example');
    assert.equal(await servedCommonName(contexts, undefined, true), 'localhost');
  });

  it('uses configured files as the default certificate', async () => {
    const generated = await loadTlsMaterial(selfSigned, join(dir, 'gen'), ['localhost'], log);
    const cert = join(dir, 'fullchain.pem');
    const key = join(dir, 'privkey.pem');
    await writeFile(cert, generated.default.cert);
    await writeFile(key, generated.default.key);
    const material = await loadTlsMaterial({ ...selfSigned, cert, key }, dir, ['localhost'], log);
    assert.equal(material.default.cert, generated.default.cert);
    await assert.rejects(stat(join(dir, 'tls')), 'no self-signed certificate was generated');
  });

  it('fails with SB_ERR_TLS_CERT naming the path of a missing or unusable file', async () => {
    const missing = join(dir, 'nope.pem');
    await assert.rejects(
      loadTlsMaterial({ ...selfSigned, cert: missing, key: missing }, dir, ['localhost'], log),
      (err: unknown) =>
        err instanceof SwitchboardError &&
        err.code === 'SB_ERR_TLS_CERT' &&
        err.message === `${missing}: cannot read (no such file)`,
    );
    const garbage = join(dir, 'garbage.pem');
    await writeFile(garbage, 'not a certificate');
    await assert.rejects(
      loadTlsMaterial(selfSigned, dir, ['localhost'], log, { localhost: { tls: { cert: garbage, key: garbage } } }),
      (err: unknown) =>
        err instanceof SwitchboardError &&
        err.code === 'SB_ERR_TLS_CERT' &&
        err.message.startsWith(`${garbage}: not a PEM certificate`),
    );
  });

  it('refuses a key that does not belong to the certificate', async () => {
    const a = await loadTlsMaterial(selfSigned, join(dir, 'a'), ['localhost'], log);
    const b = await loadTlsMaterial(selfSigned, join(dir, 'b'), ['localhost'], log);
    const cert = join(dir, 'a.crt');
    const key = join(dir, 'b.key');
    await writeFile(cert, a.default.cert);
    await writeFile(key, b.default.key);
    await assert.rejects(
      loadTlsMaterial({ ...selfSigned, cert, key }, dir, ['localhost'], log),
      /does not match the certificate/,
    );
  });

  it('fails when there is no certificate at all and self-signing is off', async () => {
    await assert.rejects(
      loadTlsMaterial({ ...selfSigned, self_signed: false }, dir, ['localhost'], log),
      (err: unknown) => err instanceof SwitchboardError && err.code === 'SB_ERR_TLS_CERT',
    );
  });

  it('applies the configured minimum TLS version', async () => {
    const material = await loadTlsMaterial(selfSigned, dir, ['localhost'], log);
    const contexts = createSecureContexts(material, { min_version: 'TLSv1.3' });
    const server = tls.createServer(contexts.options, (socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      await assert.rejects(
        new Promise<void>((resolve, reject) => {
          const socket = tls.connect(
            { host: '127.0.0.1', port, maxVersion: 'TLSv1.2', rejectUnauthorized: false },
            () => resolve(),
          );
          socket.once('error', reject);
        }),
      );
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
