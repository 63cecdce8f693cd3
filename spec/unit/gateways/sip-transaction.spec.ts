// Unit tests of the SIP transaction layer (RFC 3261 §17: non-INVITE client timers E/F/K, server timer J and
// retransmission absorption, overload answers) with a fake transport, and of the transports themselves (UDP, TCP,
// TLS over loopback) through two SipEndpoints.
import assert from 'node:assert/strict';
import { lookup } from 'node:dns/promises';
import pino from 'pino';
import { generate } from 'selfsigned';
import { SipEndpoint } from '../../../gateways/sip/endpoint.js';
import { parseDatagram, type SipMessage, serialize } from '../../../gateways/sip/message.js';
import {
  makeResponse,
  type ServerTransaction,
  TransactionLayer,
  TransactionTimeout,
} from '../../../gateways/sip/transaction.js';
import type { Flow } from '../../../gateways/sip/transport.js';
import { sipRequest } from '../../helpers/sip.js';

const log = pino({ level: 'silent' });
const timers = { t1: 30, t2: 120, t4: 150 };
const udp: Flow = { transport: 'udp', address: '127.0.0.1', port: 5999 };
const tcp: Flow = { transport: 'tcp', address: '127.0.0.1', port: 5999, connection: 1 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const request = (method = 'MESSAGE', branch?: string) => {
  const m = parseDatagram(
    sipRequest({
      method,
      uri: 'sip:a@h',
      from: 'sip:b@h',
      to: 'sip:a@h',
      via: '127.0.0.1:5999',
      body: 'x',
      contentType: 'text/plain',
    }),
  );
  if (branch && m.kind === 'request') {
    const via = m.headers.get('Via')?.replace(/branch=[^;]+/, `branch=${branch}`);
    m.headers.set('Via', via);
  }
  return m as SipMessage & { kind: 'request' };
};

function layer(opts: Partial<{ perSecond: number; burst: number; max: number }> = {}) {
  const sent: { m: SipMessage; at: number }[] = [];
  const seen: ServerTransaction[] = [];
  const t0 = Date.now();
  const tl = new TransactionLayer(
    { send: async (m) => void sent.push({ m, at: Date.now() - t0 }) },
    {
      timers,
      log,
      maxServerTransactions: opts.max ?? 100,
      ratePerSource: { perSecond: opts.perSecond ?? 1000, burst: opts.burst ?? 1000 },
      retryAfterSeconds: 7,
    },
    (tx) => seen.push(tx),
  );
  return { tl, sent, seen };
}

describe('SIP transactions (RFC 3261 §17)', () => {
  it('retransmits a request over UDP with Timer E doubling to T2, and times out with Timer F', async () => {
    const { tl, sent } = layer();
    const started = Date.now();
    await assert.rejects(tl.request(request(), udp), TransactionTimeout);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 64 * timers.t1 - 5, `Timer F after ${elapsed} ms`);
    const gaps = sent.slice(1).map((s, i) => s.at - (sent[i]?.at ?? 0));
    assert.ok(sent.length >= 6 && sent.length <= 20, `${sent.length} transmissions`);
    assert.ok(gaps[0] !== undefined && gaps[0] >= timers.t1 - 5 && gaps[0] < timers.t1 * 3, `first gap ${gaps[0]}`);
    // Capped at T2; a loaded test machine may delay a timer now and then, so judge the bulk of the gaps.
    const capped = gaps.filter((g) => g <= timers.t2 + 40).length;
    assert.ok(capped >= gaps.length * 0.8, `gaps capped at T2: ${gaps}`);
    assert.ok(
      gaps.some((g) => g >= timers.t2 - 10),
      `gaps grow to T2: ${gaps}`,
    );
  });

  it('does not retransmit over a reliable transport and resolves with the final response', async () => {
    const { tl, sent } = layer();
    const req = request();
    const p = tl.request(req, tcp);
    await sleep(timers.t1 * 4);
    assert.equal(sent.length, 1);
    tl.receive(makeResponse(req, 100), tcp);
    tl.receive(makeResponse(req, 202, { toTag: 'x' }), tcp);
    assert.equal((await p).status, 202);
  });

  it('slows retransmissions to T2 after a provisional response', async () => {
    const { tl, sent } = layer();
    const req = request();
    const p = tl.request(req, udp);
    await sleep(5);
    tl.receive(makeResponse(req, 100), udp);
    const n = sent.length;
    await sleep(timers.t2 * 2 + 20);
    assert.ok(sent.length - n <= 3, `${sent.length - n} retransmissions in 2·T2`);
    tl.receive(makeResponse(req, 200), udp);
    assert.equal((await p).status, 200);
  });

  it('absorbs request retransmissions, resending the final response (Timer J)', async () => {
    const { tl, sent, seen } = layer();
    const req = request('MESSAGE', 'z9hG4bKretrans1');
    tl.receive(req, udp);
    assert.equal(seen.length, 1);
    seen[0]?.respond(200, { toTag: 't' });
    tl.receive(parseDatagram(serialize(req)), udp);
    tl.receive(parseDatagram(serialize(req)), udp);
    assert.equal(seen.length, 1, 'the TU saw the request once');
    assert.deepEqual(
      sent.map((s) => (s.m.kind === 'response' ? s.m.status : 0)),
      [200, 200, 200],
    );
    await sleep(64 * timers.t1 + 30);
    tl.receive(parseDatagram(serialize(req)), udp);
    assert.equal(seen.length, 2, 'after Timer J the same branch is a new transaction');
  });

  it('answers CANCEL with 200 for a live transaction and 481 otherwise (§9.2)', () => {
    const { tl, sent } = layer();
    const req = request('MESSAGE', 'z9hG4bKcancel1');
    tl.receive(req, udp);
    const cancel = request('CANCEL', 'z9hG4bKcancel1');
    tl.receive(cancel, udp);
    tl.receive(request('CANCEL', 'z9hG4bKother'), udp);
    assert.deepEqual(
      sent.map((s) => (s.m.kind === 'response' ? s.m.status : 0)),
      [200, 481],
    );
  });

  it('answers 503 with Retry-After when a source exceeds its rate or the table is full (§21.5.4)', () => {
    const { tl, sent, seen } = layer({ perSecond: 1, burst: 3 });
    for (let i = 0; i < 6; i++) tl.receive(request(), udp);
    assert.equal(seen.length, 3);
    const busy = sent.filter((s) => s.m.kind === 'response' && s.m.status === 503);
    assert.equal(busy.length, 3);
    assert.equal(busy[0]?.m.headers.get('Retry-After'), '7');
    const full = layer({ max: 2 });
    for (let i = 0; i < 4; i++) full.tl.receive(request(), udp);
    assert.equal(full.seen.length, 2);
  });

  it('stamps received and rport into the top Via (§18.2.1, RFC 3581)', () => {
    const { tl, seen } = layer();
    tl.receive(request(), { transport: 'udp', address: '127.0.0.9', port: 40000 });
    const via = seen[0]?.request.headers.get('Via') ?? '';
    assert.match(via, /received=127\.0\.0\.9/);
    assert.match(via, /rport=40000/);
  });
});

describe('SIP transports over loopback (RFC 3261 §18)', function () {
  this.timeout(20_000);
  const endpoints: SipEndpoint[] = [];
  after(async () => {
    for (const e of endpoints) await e.close();
  });

  async function endpoint(listen: ConstructorParameters<typeof SipEndpoint>[0]['listen'], ca?: string) {
    const e = new SipEndpoint({
      listen,
      clientAddress: '127.0.0.1',
      timers: { t1: 50, t2: 400, t4: 500 },
      transactions: { maxServerTransactions: 100, ratePerSource: { perSecond: 100, burst: 100 }, retryAfterSeconds: 5 },
      userAgent: 'test',
      ...(ca ? { tlsClient: { ca: Buffer.from(ca), rejectUnauthorized: true } } : {}),
      log,
    });
    await e.start();
    endpoints.push(e);
    return e;
  }

  it('runs a MESSAGE transaction over UDP, TCP and TLS, and sends large requests over TCP', async () => {
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
      keyType: 'rsa',
      keySize: 2048,
      algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2 as const, value: 'localhost' }] }],
    });
    // sips:…@localhost below goes to the first address the system resolver gives (::1 with Debian's /etc/hosts).
    const { address: localhost } = await lookup('localhost');
    const server = await endpoint([
      { transport: 'udp', address: '127.0.0.1', port: 0 },
      { transport: 'tcp', address: '127.0.0.1', port: 0 },
      {
        transport: 'tls',
        address: localhost,
        port: 0,
        tls: { key: Buffer.from(pems.private), cert: Buffer.from(pems.cert) },
      },
    ]);
    const got: string[] = [];
    server.onRequest((tx) => {
      got.push(`${tx.source.transport}:${tx.request.body.length}`);
      tx.respond(200);
    });
    const client = await endpoint([], pems.cert);
    let seq = 0;
    const send = (uri: string, body = 'hi') =>
      client.request({
        method: 'MESSAGE',
        uri,
        from: { uri: 'sip:c@localhost', tag: 'ft' },
        to: { uri: 'sip:s@localhost' },
        callId: `call${Math.random()}`,
        nextSeq: () => ++seq,
        body: Buffer.from(body),
        contentType: 'text/plain',
      });
    const port = (t: 'udp' | 'tcp' | 'tls') => server.transport.local(t)?.port;
    assert.equal((await send(`sip:s@127.0.0.1:${port('udp')}`)).status, 200);
    assert.equal((await send(`sip:s@127.0.0.1:${port('tcp')};transport=tcp`)).status, 200);
    assert.equal((await send(`sips:s@localhost:${port('tls')}`)).status, 200);
    // RFC 3261 §18.1.1: over 1300 bytes, UDP gives way to TCP (same port number here).
    const big = 'x'.repeat(2000);
    const both = await endpoint([
      { transport: 'udp', address: '127.0.0.1', port: 0 },
      { transport: 'tcp', address: '127.0.0.1', port: 0 },
    ]);
    both.onRequest((tx) => {
      got.push(`${tx.source.transport}:${tx.request.body.length}`);
      tx.respond(200);
    });
    // A free UDP port equal to the TCP one is not guaranteed: send to the TCP port named as UDP.
    assert.equal((await send(`sip:s@127.0.0.1:${both.transport.local('tcp')?.port}`, big)).status, 200);
    assert.deepEqual(got, ['udp:2', 'tcp:2', 'tls:2', 'tcp:2000']);
  });
});
