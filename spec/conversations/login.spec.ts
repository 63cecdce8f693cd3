// Conversations: stream negotiation and SASL over real TCP + TLS on loopback (RFC 6120 §5, §6; XEP-0368).
import assert from 'node:assert/strict';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startClient, xml } from '../helpers/xmpp-client.js';

const NS_PING = 'urn:xmpp:ping';

describe('conversations: login', function () {
  this.timeout(20_000);
  let srv: TestServer;

  before(async () => {
    srv = await startTestServer();
    await srv.addUser('alice', 'alice-secret');
  });
  after(() => srv.stop());

  describe('with @xmpp/client', () => {
    it('logs in with SCRAM-SHA-1 over STARTTLS and pings the server', async () => {
      const c = await startClient({
        port: srv.port,
        dataDir: srv.dataDir,
        username: 'alice',
        password: 'alice-secret',
      });
      try {
        assert.match(c.jid, /^alice@localhost\/.+/);
        const res = await c.request(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: NS_PING })));
        assert.equal(res.attrs.type, 'result');
      } finally {
        await c.stop();
      }
    });

    it('logs in with PLAIN over STARTTLS', async () => {
      const c = await startClient({
        port: srv.port,
        dataDir: srv.dataDir,
        username: 'alice',
        password: 'alice-secret',
        mechanism: 'PLAIN',
        resource: 'plain',
      });
      try {
        assert.equal(c.jid, 'alice@localhost/plain');
      } finally {
        await c.stop();
      }
    });

    it('logs in over direct TLS (XEP-0368)', async () => {
      const c = await startClient({
        port: srv.tlsPort,
        dataDir: srv.dataDir,
        username: 'alice',
        password: 'alice-secret',
        directTls: true,
      });
      try {
        assert.match(c.jid, /^alice@localhost\//);
      } finally {
        await c.stop();
      }
    });

    it('fails with not-authorized on a wrong password', async () => {
      await assert.rejects(
        startClient({ port: srv.port, dataDir: srv.dataDir, username: 'alice', password: 'wrong' }),
        (err: Error & { condition?: string }) => err.condition === 'not-authorized',
      );
    });
  });

  describe('with a raw client', () => {
    it('requires STARTTLS before offering any mechanism (RFC 6120 §5.3.1)', async () => {
      const c = await RawClient.connect({ port: srv.port });
      try {
        const features = await c.openStream();
        const starttls = features.getChild('starttls', 'urn:ietf:params:xml:ns:xmpp-tls');
        assert.ok(starttls?.getChild('required'), features.toString());
        assert.equal(c.mechanisms.length, 0, 'no mechanisms before TLS');
        await c.starttls();
        for (const m of ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']) {
          assert.ok(c.mechanisms.includes(m), `${m} offered after TLS: ${c.mechanisms.join(' ')}`);
        }
      } finally {
        await c.close();
      }
    });

    it('advertises the channel-binding types it accepts (XEP-0440 §3)', async () => {
      const types = async (tlsOpts: { maxVersion?: 'TLSv1.2' }): Promise<string[]> => {
        const c = await RawClient.connect({ port: srv.port });
        try {
          await c.openStream();
          const features = await c.starttls(tlsOpts);
          const cb = features.getChild('sasl-channel-binding', 'urn:xmpp:sasl-cb:0');
          assert.ok(cb, features.toString());
          return cb.getChildren('channel-binding').map((t) => t.attrs.type ?? '');
        } finally {
          await c.close();
        }
      };
      assert.deepEqual((await types({})).sort(), ['tls-exporter', 'tls-server-end-point']);
      // RFC 9266 §3: tls-exporter is only offered where it is bound to the handshake, i.e. on TLS 1.3 here.
      assert.deepEqual(await types({ maxVersion: 'TLSv1.2' }), ['tls-server-end-point']);
    });

    for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN'] as const) {
      it(`logs in with ${mechanism} over STARTTLS and binds`, async () => {
        const c = await RawClient.login({ port: srv.port, username: 'alice', password: 'alice-secret', mechanism });
        try {
          assert.match(c.jid, /^alice@localhost\/.+/);
        } finally {
          await c.close();
        }
      });
    }

    for (const mechanism of ['SCRAM-SHA-1-PLUS', 'SCRAM-SHA-256-PLUS'] as const) {
      it(`logs in with ${mechanism} bound with tls-exporter on TLS 1.3 (RFC 9266)`, async () => {
        const c = await RawClient.connect({ port: srv.port });
        try {
          await c.openStream();
          await c.starttls();
          assert.equal((c.socket as import('node:tls').TLSSocket).getProtocol(), 'TLSv1.3');
          const r = await c.authenticate(mechanism, 'alice', 'alice-secret', { cbType: 'tls-exporter' });
          assert.ok(r.ok, r.element.toString());
          await c.bind('plus');
        } finally {
          await c.close();
        }
      });

      it(`logs in with ${mechanism} bound with tls-server-end-point on TLS 1.2 (RFC 5929)`, async () => {
        const c = await RawClient.connect({ port: srv.port, tls: { maxVersion: 'TLSv1.2' } });
        try {
          await c.openStream();
          await c.starttls();
          assert.equal((c.socket as import('node:tls').TLSSocket).getProtocol(), 'TLSv1.2');
          const r = await c.authenticate(mechanism, 'alice', 'alice-secret', { cbType: 'tls-server-end-point' });
          assert.ok(r.ok, r.element.toString());
        } finally {
          await c.close();
        }
      });
    }

    it('logs in with SCRAM-SHA-256-PLUS and tls-server-end-point on TLS 1.3 as well', async () => {
      const c = await RawClient.connect({ port: srv.port });
      try {
        await c.openStream();
        await c.starttls();
        const r = await c.authenticate('SCRAM-SHA-256-PLUS', 'alice', 'alice-secret', {
          cbType: 'tls-server-end-point',
        });
        assert.ok(r.ok, r.element.toString());
      } finally {
        await c.close();
      }
    });

    it('refuses tls-exporter on TLS 1.2, where it is not bound to the handshake (RFC 9266 §3)', async () => {
      const c = await RawClient.connect({ port: srv.port, tls: { maxVersion: 'TLSv1.2' } });
      try {
        await c.openStream();
        await c.starttls();
        const r = await c.authenticate('SCRAM-SHA-256-PLUS', 'alice', 'alice-secret', { cbType: 'tls-exporter' });
        assert.equal(r.ok, false);
        assert.equal(r.condition, 'not-authorized');
      } finally {
        c.destroy();
      }
    });

    it('refuses channel binding data from another TLS connection (a man in the middle)', async () => {
      const c = await RawClient.connect({ port: srv.port });
      try {
        await c.openStream();
        await c.starttls();
        const r = await c.authenticate('SCRAM-SHA-256-PLUS', 'alice', 'alice-secret', {
          cbType: 'tls-exporter',
          cbData: Buffer.alloc(32, 7),
        });
        assert.equal(r.ok, false);
        assert.equal(r.condition, 'not-authorized');
      } finally {
        c.destroy();
      }
    });

    it('logs in with SCRAM-SHA-256-PLUS over direct TLS (XEP-0368) with ALPN xmpp-client', async () => {
      const c = await RawClient.connect({ port: srv.tlsPort, directTls: true });
      try {
        const features = await c.openStream();
        assert.equal(features.getChild('starttls', 'urn:ietf:params:xml:ns:xmpp-tls'), undefined);
        assert.equal((c.socket as import('node:tls').TLSSocket).alpnProtocol, 'xmpp-client');
        const r = await c.authenticate('SCRAM-SHA-256-PLUS', 'alice', 'alice-secret');
        assert.ok(r.ok, r.element.toString());
        assert.equal(await c.bind('direct'), 'alice@localhost/direct');
      } finally {
        await c.close();
      }
    });

    it('answers a wrong password with <failure><not-authorized/></failure> for SCRAM and PLAIN', async () => {
      const c = await RawClient.connect({ port: srv.port });
      try {
        await c.openStream();
        await c.starttls();
        const scram = await c.authenticate('SCRAM-SHA-256', 'alice', 'not-her-password');
        assert.equal(scram.condition, 'not-authorized');
        assert.equal(scram.element.name, 'failure');
        const plain = await c.authenticate('PLAIN', 'alice', 'not-her-password');
        assert.equal(plain.condition, 'not-authorized');
        // A failed attempt leaves the stream open for a retry (RFC 6120 §6.4.5) …
        assert.equal(c.ended, false);
      } finally {
        c.destroy();
      }
    });
  });

  describe('failures and throttling', () => {
    // A fresh server per test: the throttle state is per server process and all clients come from loopback.
    let fsrv: TestServer;
    beforeEach(async () => {
      fsrv = await startTestServer({
        yaml: 'auth: { throttle: { max_failures: 4, window_seconds: 60, lockout_seconds: 60 } }',
      });
      await fsrv.addUser('alice', 'alice-secret');
      await fsrv.addUser('bob', 'bob-secret');
    });
    afterEach(() => fsrv.stop());

    async function attempt(
      password: string,
      opts: { localAddress?: string; username?: string; mechanism?: 'SCRAM-SHA-1' | 'PLAIN' } = {},
    ): Promise<string | undefined> {
      const c = await RawClient.connect({
        port: fsrv.port,
        ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      });
      try {
        await c.openStream();
        await c.starttls();
        const r = await c.authenticate(opts.mechanism ?? 'SCRAM-SHA-1', opts.username ?? 'alice', password);
        return r.condition;
      } finally {
        c.destroy();
      }
    }

    it('answers an unknown user with not-authorized, like a wrong password (no account enumeration)', async () => {
      assert.equal(await attempt('whatever', { username: 'nobody' }), 'not-authorized');
      assert.equal(await attempt('whatever', { username: 'nobody', mechanism: 'PLAIN' }), 'not-authorized');
    });

    it('closes the stream after 3 failures on one stream (RFC 6120 §6.4.5)', async () => {
      const c = await RawClient.connect({ port: fsrv.port });
      try {
        await c.openStream();
        await c.starttls();
        for (let i = 0; i < 3; i++) {
          const r = await c.authenticate('SCRAM-SHA-1', 'alice', `wrong-${i}`);
          assert.equal(r.condition, 'not-authorized');
        }
        assert.equal(await c.waitForStreamError(), 'policy-violation');
        await c.waitForEnd();
      } finally {
        c.destroy();
      }
    });

    it('refuses further attempts from one IP with temporary-auth-failure, even with the right password', async () => {
      for (let i = 0; i < 4; i++) assert.equal(await attempt(`wrong-${i}`), 'not-authorized');
      assert.equal(await attempt('alice-secret'), 'temporary-auth-failure');
      // Another user from the same address is refused as well: the address is locked.
      assert.equal(await attempt('bob-secret', { username: 'bob' }), 'temporary-auth-failure');
      // Another address is not affected.
      assert.equal(await attempt('bob-secret', { username: 'bob', localAddress: '127.0.0.2' }), undefined);
    });

    it('refuses further attempts for one account from any IP with temporary-auth-failure', async () => {
      // Spread the failures over several source addresses so that no single address is locked.
      for (let i = 0; i < 4; i++) {
        assert.equal(await attempt(`wrong-${i}`, { localAddress: `127.0.0.${10 + i}` }), 'not-authorized');
      }
      assert.equal(await attempt('alice-secret', { localAddress: '127.0.0.20' }), 'temporary-auth-failure');
      // Other accounts from that address still log in.
      assert.equal(await attempt('bob-secret', { username: 'bob', localAddress: '127.0.0.20' }), undefined);
    });
  });
});
