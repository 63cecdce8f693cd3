import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import selfsigned from 'selfsigned';
import {
  deriveAll,
  deriveScram,
  endPointHash,
  tlsChannelBinding,
  verifyPassword,
} from '../../../server/stream/sasl/credentials.js';
import type { ChannelBindingSource } from '../../../server/stream/sasl/mechanism.js';

describe('SCRAM credentials', () => {
  it('derives the RFC 5802 §5 keys deterministically from salt and iterations', () => {
    const salt = Buffer.from('QSXCR+Q6sek8bf92', 'base64');
    const a = deriveScram('pencil', 'sha1', { salt, iterations: 4096 });
    const b = deriveScram('pencil', 'sha1', { salt, iterations: 4096 });
    assert.deepEqual(a, b);
    assert.equal(a.storedKey.length, 20);
    assert.equal(a.serverKey.length, 20);
    assert.equal(a.iterations, 4096);
  });

  it('defaults to 4096 iterations and a fresh 16-byte salt', () => {
    const a = deriveScram('pw', 'sha256');
    const b = deriveScram('pw', 'sha256');
    assert.equal(a.iterations, 4096);
    assert.equal(a.salt.length, 16);
    assert.notDeepEqual(a.salt, b.salt);
    assert.equal(a.storedKey.length, 32);
  });

  it('deriveAll yields one credential per hash, each with its own salt', () => {
    const all = deriveAll('pw', { iterations: 16 });
    assert.deepEqual(Object.keys(all).sort(), ['sha1', 'sha256']);
    assert.notDeepEqual(all.sha1.salt, all.sha256.salt);
  });

  it('verifyPassword recomputes the StoredKey', () => {
    const all = deriveAll('correct horse', { iterations: 16 });
    assert.equal(verifyPassword('correct horse', all.sha1, 'sha1'), true);
    assert.equal(verifyPassword('correct horse', all.sha256, 'sha256'), true);
    assert.equal(verifyPassword('correct horsE', all.sha256, 'sha256'), false);
    assert.equal(verifyPassword('correct horse', all.sha256, 'sha1'), false, 'key length mismatch is a plain no');
  });

  it('rejects invalid iteration counts and empty salts', () => {
    assert.throws(() => deriveScram('pw', 'sha1', { iterations: 0 }), RangeError);
    assert.throws(() => deriveScram('pw', 'sha1', { iterations: 1.5 }), RangeError);
    assert.throws(() => deriveScram('pw', 'sha1', { salt: Buffer.alloc(0) }), RangeError);
  });
});

describe('TLS channel binding', function () {
  this.timeout(60_000);
  let rsaSha256: selfsigned.GenerateResult;
  let rsaSha1: selfsigned.GenerateResult;
  let ecSha384: selfsigned.GenerateResult;

  before(async () => {
    const attrs = [{ name: 'commonName', value: 'localhost' }];
    [rsaSha256, rsaSha1, ecSha384] = await Promise.all([
      selfsigned.generate(attrs, { algorithm: 'sha256', keySize: 2048 }),
      selfsigned.generate(attrs, { algorithm: 'sha1', keySize: 2048 }),
      selfsigned.generate(attrs, { algorithm: 'sha384', keyType: 'ec', curve: 'P-384' }),
    ]);
  });

  it('picks the RFC 5929 §4.1 hash from the signature algorithm', () => {
    assert.equal(endPointHash(new X509Certificate(rsaSha256.cert).raw), 'sha256');
    assert.equal(endPointHash(new X509Certificate(rsaSha1.cert).raw), 'sha256', 'SHA-1 is upgraded to SHA-256');
    assert.equal(endPointHash(new X509Certificate(ecSha384.cert).raw), 'sha384');
  });

  /** Connects a client to a loopback TLS server and returns both ends once the handshake is done. */
  async function handshake(pem: selfsigned.GenerateResult, maxVersion: tls.SecureVersion) {
    const server = tls.createServer({ key: pem.private, cert: pem.cert, maxVersion });
    const serverSide = new Promise<tls.TLSSocket>((resolve) => server.once('secureConnection', resolve));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const client = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, maxVersion });
    await new Promise<void>((resolve, reject) => client.once('secureConnect', resolve).once('error', reject));
    const socket = await serverSide;
    const close = async () => {
      client.destroy();
      socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    };
    return { client, socket, close };
  }

  it('on TLS 1.3 offers tls-exporter (RFC 9266) and tls-server-end-point matching the client view', async () => {
    const { client, socket, close } = await handshake(ecSha384, 'TLSv1.3');
    try {
      const source: ChannelBindingSource = tlsChannelBinding(socket);
      assert.deepEqual(source.types(), ['tls-exporter', 'tls-server-end-point']);
      assert.deepEqual(
        source.data('tls-exporter'),
        client.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0)),
      );
      const peer = client.getPeerCertificate().raw;
      assert.deepEqual(source.data('tls-server-end-point'), createHash('sha384').update(peer).digest());
      assert.equal(source.data('tls-unique'), null);
    } finally {
      await close();
    }
  });

  it('on TLS 1.2 offers only tls-server-end-point', async () => {
    const { client, socket, close } = await handshake(rsaSha1, 'TLSv1.2');
    try {
      const source = tlsChannelBinding(socket);
      assert.deepEqual(source.types(), ['tls-server-end-point']);
      assert.equal(source.data('tls-exporter'), null);
      const peer = client.getPeerCertificate().raw;
      assert.deepEqual(source.data('tls-server-end-point'), createHash('sha256').update(peer).digest());
    } finally {
      await close();
    }
  });
});
