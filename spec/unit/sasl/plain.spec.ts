import assert from 'node:assert/strict';
import { SaslFailure } from '../../../server/errors/index.js';
import { deriveScram } from '../../../server/stream/sasl/credentials.js';
import { createMechanism, type SaslContext, type SaslMechanism } from '../../../server/stream/sasl/mechanism.js';
import { mapOpaqueString } from '../../../server/stream/sasl/plain.js';
import { accountsWith, context, rejectsWith, text } from './fixtures.js';

const plain = (authzid: string, authcid: string, password: string) =>
  Buffer.from(`${authzid}\0${authcid}\0${password}`);

function mech(ctx: SaslContext, preparePassword?: (s: string) => string): SaslMechanism {
  const m = createMechanism('PLAIN', ctx, preparePassword ? { preparePassword } : {});
  assert.ok(m);
  return m;
}

describe('PLAIN server', () => {
  const accounts = accountsWith({ juliet: 'r0m30' });
  const secure = () => context(accounts, { secure: true });

  it('authenticates with an initial response', async () => {
    const step = await mech(secure()).start(plain('', 'juliet', 'r0m30'));
    assert.deepEqual(step, { kind: 'success', data: null, username: 'juliet' });
  });

  it('authenticates after an empty challenge, with an authzid equal to the authcid', async () => {
    const m = mech(secure());
    assert.equal(text(await m.start(null)), '');
    assert.equal((await m.step(plain('juliet', 'juliet', 'r0m30'))).kind, 'success');
  });

  it('falls back to the SHA-1 credential when there is no SHA-256 one', async () => {
    const sha1Only = new Map([['old', { sha1: deriveScram('pw', 'sha1', { iterations: 16 }) }]]);
    const step = await mech(context(sha1Only, { secure: true })).start(plain('', 'old', 'pw'));
    assert.equal(step.kind, 'success');
  });

  it('rejects a wrong password and an unknown user with not-authorized', async () => {
    await rejectsWith(mech(secure()).start(plain('', 'juliet', 'wrong')), 'not-authorized');
    await rejectsWith(mech(secure()).start(plain('', 'romeo', 'r0m30')), 'not-authorized');
  });

  it('rejects an authzid naming someone else with invalid-authzid', async () => {
    await rejectsWith(mech(secure()).start(plain('romeo', 'juliet', 'r0m30')), 'invalid-authzid');
  });

  it('refuses to run without TLS (encryption-required)', () => {
    assert.throws(
      () => createMechanism('PLAIN', context(accounts)),
      (err: unknown) => err instanceof SaslFailure && err.condition === 'encryption-required',
    );
  });

  it('rejects malformed messages and invalid UTF-8', async () => {
    for (const message of ['juliet\0r0m30', '\0\0r0m30', '\0juliet\0', 'a\0b\0c\0d']) {
      await rejectsWith(mech(secure()).start(Buffer.from(message)), 'malformed-request', JSON.stringify(message));
    }
    await rejectsWith(mech(secure()).start(Buffer.from([0, 0x6a, 0, 0xc3])), 'incorrect-encoding');
  });

  it('prepares the password (OpaqueString mapping) before verifying', async () => {
    const ctx = context(new Map([['u', { sha256: deriveScram('a b\u00e9', 'sha256', { iterations: 16 }) }]]), {
      secure: true,
    });
    // U+3000 IDEOGRAPHIC SPACE maps to U+0020; e + U+0301 composes to U+00E9 (RFC 8265 §4.2.1).
    assert.equal((await mech(ctx).start(plain('', 'u', 'a\u3000be\u0301'))).kind, 'success');
    assert.equal(mapOpaqueString('a\u00a0b c'), 'a b c');
    const injected = mech(ctx, (s) => s.toLowerCase());
    assert.equal((await injected.start(plain('', 'u', 'A B\u00e9'))).kind, 'success');
  });

  it('is single use', async () => {
    const m = mech(secure());
    await m.start(plain('', 'juliet', 'r0m30'));
    await rejectsWith(m.step(plain('', 'juliet', 'r0m30')), 'malformed-request');
  });
});
