import assert from 'node:assert/strict';
import { deriveScram } from '../../../server/stream/sasl/credentials.js';
import {
  createMechanism,
  type MechanismOptions,
  type SaslContext,
  type SaslMechanism,
} from '../../../server/stream/sasl/mechanism.js';
import { NonceReplayCache } from '../../../server/stream/sasl/scram.js';
import type { ScramHash } from '../../../storage/api/index.js';
import { gs2Header, ScramClient } from '../../helpers/scram-client.js';
import { accountsWith, context, END_POINT_DATA, EXPORTER_DATA, fakeBinding, rejectsWith, text } from './fixtures.js';

const b = (s: string) => Buffer.from(s, 'utf8');

function mech(name: string, ctx: SaslContext, opts: MechanismOptions = {}): SaslMechanism {
  const m = createMechanism(name, ctx, { replayGuard: new NonceReplayCache(), ...opts });
  assert.ok(m, `mechanism ${name} should be available`);
  return m;
}

describe('SCRAM server', () => {
  describe('RFC test vectors', () => {
    it('reproduces the RFC 5802 §5 SCRAM-SHA-1 exchange', async () => {
      const cred = deriveScram('pencil', 'sha1', { salt: Buffer.from('QSXCR+Q6sek8bf92', 'base64'), iterations: 4096 });
      const ctx = context(new Map([['user', { sha1: cred }]]));
      const m = mech('SCRAM-SHA-1', ctx, { randomNonce: () => '3rfcNHYJY1ZVvWVs7j' });
      const first = await m.start(b('n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL'));
      assert.equal(text(first), 'r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096');
      const final = await m.step(
        b('c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts='),
      );
      assert.deepEqual(final, { kind: 'success', data: b('v=rmF9pqV8S7suAoZWja4dJRkFsKQ='), username: 'user' });
    });

    it('reproduces the RFC 7677 §3 SCRAM-SHA-256 exchange', async () => {
      const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
      const cred = deriveScram('pencil', 'sha256', { salt, iterations: 4096 });
      const ctx = context(new Map([['user', { sha256: cred }]]));
      // The server nonce suffix as printed in RFC 7677 §3.
      const m = mech('SCRAM-SHA-256', ctx, { randomNonce: () => '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0' });
      const first = await m.start(b('n,,n=user,r=rOprNGfwEbeRWgbNEkqO'));
      const nonce = 'rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
      assert.equal(text(first), `r=${nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`);
      const final = await m.step(b(`c=biws,r=${nonce},p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=`));
      assert.equal(final.kind, 'success');
      assert.equal(final.data?.toString(), 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
    });
  });

  describe('full exchanges with the test client', () => {
    const accounts = accountsWith({ juliet: 'r0m30', 'we,i=rd': 's3cret' });
    const variants: { name: string; hash: ScramHash; cb?: 'tls-exporter' | 'tls-server-end-point' }[] = [
      { name: 'SCRAM-SHA-1', hash: 'sha1' },
      { name: 'SCRAM-SHA-256', hash: 'sha256' },
      { name: 'SCRAM-SHA-1-PLUS', hash: 'sha1', cb: 'tls-exporter' },
      { name: 'SCRAM-SHA-256-PLUS', hash: 'sha256', cb: 'tls-exporter' },
      { name: 'SCRAM-SHA-256-PLUS', hash: 'sha256', cb: 'tls-server-end-point' },
    ];
    for (const v of variants) {
      it(`authenticates with ${v.name}${v.cb ? ` (${v.cb})` : ''}`, async () => {
        const ctx = context(accounts, { secure: true, channelBinding: fakeBinding(), offeredPlus: true });
        const cbindData = v.cb === 'tls-exporter' ? EXPORTER_DATA : v.cb ? END_POINT_DATA : undefined;
        const header = v.cb ? gs2Header({ p: v.cb }) : gs2Header('n');
        const client = new ScramClient({
          username: 'juliet',
          password: 'r0m30',
          hash: v.hash,
          gs2Header: header,
          cbindData,
        });
        const m = mech(v.name, ctx);
        const first = await m.start(b(client.clientFirst()));
        const final = await m.step(b(client.clientFinal(text(first))));
        assert.equal(final.kind, 'success');
        assert.equal(final.kind === 'success' && final.username, 'juliet');
        client.verifyServerFinal(final.data?.toString() ?? '');
      });
    }

    it('sends an empty challenge first when there is no initial response (RFC 6120 §6.4.2)', async () => {
      const client = new ScramClient({ username: 'juliet', password: 'r0m30', hash: 'sha256' });
      const m = mech('SCRAM-SHA-256', context(accounts));
      assert.equal(text(await m.start(null)), '');
      const first = await m.step(b(client.clientFirst()));
      const final = await m.step(b(client.clientFinal(text(first))));
      client.verifyServerFinal(final.data?.toString() ?? '');
    });

    it('decodes =2C and =3D in the username, and accepts a matching authzid', async () => {
      const client = new ScramClient({
        username: 'we,i=rd',
        password: 's3cret',
        hash: 'sha1',
        gs2Header: gs2Header('n', 'we,i=rd'),
      });
      const m = mech('SCRAM-SHA-1', context(accounts));
      const final = await m.step(b(client.clientFinal(text(await m.start(b(client.clientFirst()))))));
      assert.equal(final.kind === 'success' && final.username, 'we,i=rd');
    });

    it("accepts an authzid that the context's acceptAuthzid approves", async () => {
      const ctx = context(accounts, { acceptAuthzid: (z, c) => z === `${c}@example.com` });
      const header = gs2Header('n', 'juliet@example.com');
      const client = new ScramClient({ username: 'juliet', password: 'r0m30', hash: 'sha1', gs2Header: header });
      const m = mech('SCRAM-SHA-1', ctx);
      const final = await m.step(b(client.clientFinal(text(await m.start(b(client.clientFirst()))))));
      assert.equal(final.kind, 'success');
    });
  });

  describe('failures', () => {
    const accounts = accountsWith({ juliet: 'r0m30' });
    const plusCtx = () => context(accounts, { secure: true, channelBinding: fakeBinding(), offeredPlus: true });

    async function run(m: SaslMechanism, client: ScramClient, overrides = {}) {
      const first = await m.start(b(client.clientFirst()));
      return m.step(b(client.clientFinal(text(first), overrides)));
    }

    it('rejects a wrong password with not-authorized', async () => {
      const client = new ScramClient({ username: 'juliet', password: 'wrong', hash: 'sha256' });
      await rejectsWith(run(mech('SCRAM-SHA-256', context(accounts)), client), 'not-authorized');
    });

    it('answers an unknown user with a stable fake salt, then fails', async () => {
      const opts = { fakeSaltSecret: Buffer.alloc(32, 7), fakeIterations: 4096 };
      const salts: string[] = [];
      for (let i = 0; i < 2; i++) {
        const client = new ScramClient({ username: 'romeo', password: 'x', hash: 'sha1' });
        const m = mech('SCRAM-SHA-1', context(accounts), opts);
        const first = text(await m.start(b(client.clientFirst())));
        assert.match(first, /,s=[A-Za-z0-9+/=]+,i=4096$/);
        salts.push(first.split(',')[1] ?? '');
        await rejectsWith(m.step(b(client.clientFinal(first))), 'not-authorized');
      }
      assert.equal(salts[0], salts[1]);
    });

    it('rejects an authzid different from the authcid with invalid-authzid', async () => {
      const header = gs2Header('n', 'romeo');
      const client = new ScramClient({ username: 'juliet', password: 'r0m30', hash: 'sha1', gs2Header: header });
      await rejectsWith(mech('SCRAM-SHA-1', context(accounts)).start(b(client.clientFirst())), 'invalid-authzid');
    });

    it("fails a 'y' flag when -PLUS was offered and binding is possible (RFC 5802 §6 downgrade)", async () => {
      const client = new ScramClient({ username: 'juliet', password: 'r0m30', hash: 'sha256', gs2Header: 'y,,' });
      await rejectsWith(mech('SCRAM-SHA-256', plusCtx()).start(b(client.clientFirst())), 'not-authorized');
    });

    it("accepts a 'y' flag when no -PLUS mechanism was offered", async () => {
      const ctx = context(accounts, { secure: true, channelBinding: fakeBinding(), offeredPlus: false });
      const client = new ScramClient({ username: 'juliet', password: 'r0m30', hash: 'sha256', gs2Header: 'y,,' });
      assert.equal((await run(mech('SCRAM-SHA-256', ctx), client)).kind, 'success');
    });

    it('rejects p= on a non-PLUS mechanism', async () => {
      const header = gs2Header({ p: 'tls-exporter' });
      const client = new ScramClient({ username: 'juliet', password: 'r0m30', hash: 'sha1', gs2Header: header });
      await rejectsWith(mech('SCRAM-SHA-1', plusCtx()).start(b(client.clientFirst())), 'malformed-request');
    });

    it('rejects n or y on a -PLUS mechanism, and an unsupported binding type', async () => {
      for (const header of ['n,,', 'y,,']) {
        const client = new ScramClient({ username: 'juliet', password: 'r0m30', hash: 'sha1', gs2Header: header });
        await rejectsWith(mech('SCRAM-SHA-1-PLUS', plusCtx()).start(b(client.clientFirst())), 'malformed-request');
      }
      const header = gs2Header({ p: 'tls-unique' });
      const client = new ScramClient({ username: 'juliet', password: 'r0m30', hash: 'sha1', gs2Header: header });
      await rejectsWith(mech('SCRAM-SHA-1-PLUS', plusCtx()).start(b(client.clientFirst())), 'not-authorized');
    });

    it('rejects c= that does not carry the expected binding data', async () => {
      const header = gs2Header({ p: 'tls-exporter' });
      const wrong = Buffer.alloc(32, 1);
      const client = new ScramClient({
        username: 'juliet',
        password: 'r0m30',
        hash: 'sha256',
        gs2Header: header,
        cbindData: wrong,
      });
      await rejectsWith(run(mech('SCRAM-SHA-256-PLUS', plusCtx()), client), 'not-authorized');
      const stripped = new ScramClient({ username: 'juliet', password: 'r0m30', hash: 'sha256' });
      await rejectsWith(
        run(mech('SCRAM-SHA-256', context(accounts)), stripped, { channelBinding: 'eSws' }),
        'not-authorized',
      );
    });

    it('rejects r= that is not the combined nonce', async () => {
      const client = new ScramClient({ username: 'juliet', password: 'r0m30', hash: 'sha256', nonce: 'abc' });
      await rejectsWith(run(mech('SCRAM-SHA-256', context(accounts)), client, { nonce: 'abcdef' }), 'not-authorized');
    });

    it('rejects a replayed client nonce', async () => {
      const replayGuard = new NonceReplayCache();
      const client = () =>
        new ScramClient({ username: 'juliet', password: 'r0m30', hash: 'sha1', nonce: 'same-nonce' });
      assert.equal((await run(mech('SCRAM-SHA-1', context(accounts), { replayGuard }), client())).kind, 'success');
      await rejectsWith(
        mech('SCRAM-SHA-1', context(accounts), { replayGuard }).start(b(client().clientFirst())),
        'not-authorized',
      );
    });

    it('forgets client nonces after their TTL and beyond its capacity', () => {
      let now = 0;
      const cache = new NonceReplayCache({ ttlMs: 1000, maxEntries: 2 }, () => now);
      assert.equal(cache.seen('a'), false);
      assert.equal(cache.seen('a'), true);
      now = 1000;
      assert.equal(cache.seen('a'), false);
      cache.seen('b');
      cache.seen('c');
      assert.equal(cache.seen('a'), false, 'oldest entry evicted at capacity');
    });

    it('rejects a mandatory extension (m=) and malformed client-first messages', async () => {
      const bad = [
        'n,,m=ext,n=juliet,r=abc',
        'n,,r=abc,n=juliet',
        'n,,n=jul=41iet,r=abc',
        'n,,n=,r=abc',
        'x,,n=juliet,r=abc',
        'F,n,,n=juliet,r=abc',
        'n,b=x,n=juliet,r=abc',
        'n,,n=juliet,r=a,bc',
        'n,,n=juliet',
        '',
      ];
      for (const message of bad) {
        await rejectsWith(mech('SCRAM-SHA-1', context(accounts)).start(b(message)), 'malformed-request', message);
      }
      await rejectsWith(
        mech('SCRAM-SHA-1', context(accounts)).start(Buffer.from([0x6e, 0x2c, 0x2c, 0xff])),
        'incorrect-encoding',
      );
    });

    it('rejects malformed client-final messages', async () => {
      const cases: [string, 'malformed-request' | 'incorrect-encoding'][] = [
        ['r=NONCE,c=biws,p=AAAA', 'malformed-request'],
        ['c=biws,r=NONCE', 'malformed-request'],
        ['c=bi!s,r=NONCE,p=AAAA', 'incorrect-encoding'],
        ['c=biws,r=NONCE,p=AAAA', 'malformed-request'],
        ['c=biws,r=NONCE,p=****', 'incorrect-encoding'],
      ];
      for (const [message, condition] of cases) {
        const m = mech('SCRAM-SHA-1', context(accounts), { randomNonce: () => 'S' });
        await m.start(b('n,,n=juliet,r=C'));
        await rejectsWith(m.step(b(message.replace('NONCE', 'CS'))), condition, message);
      }
    });

    it('is single use: any step after success or failure fails', async () => {
      const client = new ScramClient({ username: 'juliet', password: 'r0m30', hash: 'sha1' });
      const m = mech('SCRAM-SHA-1', context(accounts));
      await run(m, client);
      await rejectsWith(m.step(b('c=biws')), 'malformed-request');
      await rejectsWith(m.start(null), 'malformed-request');
      const failed = mech('SCRAM-SHA-1', context(accounts));
      await rejectsWith(failed.start(b('garbage')), 'malformed-request');
      await rejectsWith(failed.step(b(client.clientFirst())), 'malformed-request');
    });
  });
});
