// Bad stream headers, bad stream restarts and STARTTLS command injection (RFC 6120 §4.7, §4.9.1.2, §5.4.3.3).
import assert from 'node:assert/strict';
import { NS } from '../../server/xml/ns.js';
import {
  expectServerAlive,
  expectStreamError,
  plainPayload,
  RawStream,
  STREAM_HEADER_ATTRS,
} from '../helpers/raw-stream.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const header = (attrs: string) => `<?xml version='1.0'?><stream:stream ${attrs}>`;

describe('bad input: stream headers and restarts', function () {
  this.timeout(15_000);
  let ts: TestServer;

  before(async () => {
    // Two hosts, so that a restart can name a host that is served, just not the one the stream began with.
    ts = await startTestServer({ hostsYaml: 'hosts:\n  localhost: {}\n  example.org: {}' });
    await ts.addUser('alice', 'alice-pw');
  });

  after(async () => {
    await ts?.stop();
  });

  describe('stream header problems (RFC 6120 §4.9.1.2: our header first, then the error)', () => {
    const cases: [string, string, string][] = [
      [
        'a wrong stream namespace',
        `to='localhost' xmlns='jabber:client' xmlns:stream='http://example.com/streams' version='1.0'`,
        'invalid-namespace',
      ],
      [
        'a content namespace other than jabber:client',
        `to='localhost' xmlns='jabber:server' xmlns:stream='${NS.STREAM}' version='1.0'`,
        'invalid-namespace',
      ],
      [
        "a 'to' naming a host this server does not serve",
        `to='unknown.example' ${STREAM_HEADER_ATTRS}`,
        'host-unknown',
      ],
      [
        "a 'to' that is not a domain",
        `to='user@localhost' xmlns='jabber:client' xmlns:stream='${NS.STREAM}' version='1.0'`,
        'host-unknown',
      ],
      // RFC 6120 §4.7.5: no 'version' means 0.9, which this server does not speak.
      ['no version', `to='localhost' xmlns='jabber:client' xmlns:stream='${NS.STREAM}'`, 'unsupported-version'],
      [
        'version 0.9',
        `to='localhost' xmlns='jabber:client' xmlns:stream='${NS.STREAM}' version='0.9'`,
        'unsupported-version',
      ],
      [
        'a version that is not a number',
        `to='localhost' xmlns='jabber:client' xmlns:stream='${NS.STREAM}' version='x'`,
        'unsupported-version',
      ],
    ];
    for (const [what, attrs, condition] of cases) {
      it(`answers ${what} with <${condition}/>`, async () => {
        const s = await RawStream.connect({ port: ts.port });
        s.sendHeader(header(attrs));
        await expectStreamError(s, condition);
        assert.equal(s.headers[0]?.xmlns, NS.CLIENT, 'our header declares jabber:client');
        assert.equal(s.headers[0]?.['xmlns:stream'], NS.STREAM, 'our header is a real stream header');
        assert.equal(
          s.find((el) => el.name === 'stream:features'),
          undefined,
          'no features offered',
        );
      });
    }

    it('answers a bad header on the direct TLS port the same way', async () => {
      const s = await RawStream.connect({ port: ts.tlsPort, tls: true });
      s.sendHeader(header(`to='unknown.example' ${STREAM_HEADER_ATTRS}`));
      await expectStreamError(s, 'host-unknown');
    });

    it('accepts a higher minor version and answers with 1.0 (RFC 6120 §4.7.5)', async () => {
      const s = await RawStream.connect({ port: ts.port });
      s.sendHeader(header(`to='localhost' xmlns='jabber:client' xmlns:stream='${NS.STREAM}' version='1.5'`));
      await s.waitElement((el) => el.name === 'stream:features', 'features');
      assert.equal(s.headers[0]?.version, '1.0');
      s.close();
    });
  });

  describe('stream restarts that change the host', () => {
    it('refuses a restart after STARTTLS that names another served host', async () => {
      const s = await RawStream.connect({ port: ts.port });
      await s.open('localhost');
      await s.startTls();
      s.sendHeader(header(`to='example.org' ${STREAM_HEADER_ATTRS}`));
      await expectStreamError(s, 'host-unknown');
      assert.equal(s.headers[0]?.from, 'localhost', 'the answering header keeps the original host');
    });

    it('refuses a restart after STARTTLS that names an unknown host', async () => {
      const s = await RawStream.connect({ port: ts.port });
      await s.open('localhost');
      await s.startTls();
      s.sendHeader(header(`to='unknown.example' ${STREAM_HEADER_ATTRS}`));
      await expectStreamError(s, 'host-unknown');
    });

    it('refuses a restart after SASL that names another served host, so no bind for it', async () => {
      const s = await RawStream.connect({ port: ts.port });
      await s.open('localhost');
      await s.startTls();
      await s.open('localhost');
      await s.authPlain('alice', 'alice-pw');
      const from = s.elements.length;
      s.sendHeader(header(`to='example.org' ${STREAM_HEADER_ATTRS}`));
      await expectStreamError(s, 'host-unknown');
      assert.equal(
        s.find((el) => el.name === 'stream:features', from),
        undefined,
        'no bind feature offered',
      );
    });

    it('refuses a restart after SASL with a wrong stream namespace', async () => {
      const s = await RawStream.connect({ port: ts.port });
      await s.open();
      await s.startTls();
      await s.open();
      await s.authPlain('alice', 'alice-pw');
      s.sendHeader(header(`to='localhost' xmlns='jabber:client' xmlns:stream='urn:example:not-streams' version='1.0'`));
      await expectStreamError(s, 'invalid-namespace');
    });
  });

  describe('STARTTLS (RFC 6120 §5.4.3.3)', () => {
    it('ignores commands sent in the same packet after <starttls/>; the handshake still succeeds', async () => {
      const s = await RawStream.connect({ port: ts.port });
      await s.open();
      // Valid PLAIN credentials and a pre-auth iq ride along in plaintext: if either were processed (before or
      // after the handshake), the stream would be authenticated or answered without TLS protecting the exchange.
      s.send(
        `<starttls xmlns='${NS.TLS}'/>` +
          `<iq type='get' id='inj1'><query xmlns='${NS.REGISTER}'/></iq>` +
          `<auth xmlns='${NS.SASL}' mechanism='PLAIN'>${plainPayload('alice', 'alice-pw')}</auth>`,
      );
      await s.waitElement((el) => el.name === 'proceed' && el.attrs.xmlns === NS.TLS, '<proceed/>');
      await s.upgrade();
      const features = await s.open();
      assert.ok(features.getChild('mechanisms', NS.SASL), 'SASL is offered: the stream is not authenticated');
      assert.equal(features.getChild('bind', NS.BIND), undefined, 'no bind before SASL');
      await s.authPlain('alice', 'alice-pw');
      await s.open();
      await s.bind('after-injection');
      await s.sync();
      assert.equal(
        s.find((el) => el.attrs.id === 'inj1'),
        undefined,
        'the injected iq was never answered',
      );
      const sasl = s.elements.filter((el) => el.attrs.xmlns === NS.SASL && el.name !== 'mechanisms');
      assert.equal(sasl.length, 1, 'exactly one SASL outcome: the one negotiated over TLS');
      assert.equal(s.streamError(), undefined);
      s.close();
    });

    const injected: [string, string][] = [
      ['a stream close', '</stream:stream>'],
      ['broken XML', '<foo></bar>'],
      ['a new stream header', `<stream:stream to='localhost' ${STREAM_HEADER_ATTRS}>`],
    ];
    for (const [what, tail] of injected) {
      it(`ignores ${what} sent in the same packet after <starttls/>`, async () => {
        const s = await RawStream.connect({ port: ts.port });
        await s.open();
        s.send(`<starttls xmlns='${NS.TLS}'/>${tail}`);
        await s.waitElement((el) => el.name === 'proceed' && el.attrs.xmlns === NS.TLS, '<proceed/>');
        await s.upgrade();
        await s.open();
        await s.authPlain('alice', 'alice-pw');
        await s.open();
        await s.bind();
        await s.sync();
        assert.equal(s.streamError(), undefined);
        assert.ok(!s.socketClosed, 'the stream is still open');
        s.close();
      });
    }

    it('answers <starttls/> on a stream that is already encrypted with <failure/> and a close', async () => {
      const s = await RawStream.connect({ port: ts.tlsPort, tls: true });
      await s.open();
      s.send(`<starttls xmlns='${NS.TLS}'/>`);
      await s.waitClosed();
      assert.ok(
        s.find((el) => el.name === 'failure' && el.attrs.xmlns === NS.TLS),
        'a TLS <failure/>',
      );
      assert.ok(s.streamClosed, "'</stream:stream>' after the failure (RFC 6120 §5.4.2.2)");
    });
  });

  describe('afterwards', () => {
    it('still accepts logins', async () => {
      await expectServerAlive(ts.port, 'alice', 'alice-pw');
    });
  });
});
