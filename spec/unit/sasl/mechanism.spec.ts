import assert from 'node:assert/strict';
import { availableMechanisms, createMechanism } from '../../../server/stream/sasl/mechanism.js';
import { context, fakeBinding } from './fixtures.js';

describe('SASL mechanism registry', () => {
  it('lists mechanisms strongest first, PLAIN only over TLS, -PLUS only with a binding type', () => {
    assert.deepEqual(availableMechanisms({ secure: false, channelBindings: [], allowPlain: true }), [
      'SCRAM-SHA-256',
      'SCRAM-SHA-1',
    ]);
    assert.deepEqual(availableMechanisms({ secure: true, channelBindings: [], allowPlain: true }), [
      'SCRAM-SHA-256',
      'SCRAM-SHA-1',
      'PLAIN',
    ]);
    assert.deepEqual(availableMechanisms({ secure: true, channelBindings: ['tls-exporter'], allowPlain: false }), [
      'SCRAM-SHA-256-PLUS',
      'SCRAM-SHA-1-PLUS',
      'SCRAM-SHA-256',
      'SCRAM-SHA-1',
    ]);
  });

  it('honours the enabled list', () => {
    const list = availableMechanisms({
      secure: true,
      channelBindings: ['tls-exporter'],
      allowPlain: true,
      enabled: ['PLAIN', 'SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'],
    });
    assert.deepEqual(list, ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256', 'PLAIN']);
  });

  it('creates known mechanisms and returns null for unknown or unusable ones', () => {
    const ctx = context(new Map(), { secure: true, channelBinding: fakeBinding(), offeredPlus: true });
    for (const name of ['SCRAM-SHA-1', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-256', 'SCRAM-SHA-256-PLUS', 'PLAIN']) {
      assert.equal(createMechanism(name, ctx)?.name, name);
    }
    assert.equal(createMechanism('DIGEST-MD5', ctx), null);
    assert.equal(createMechanism('scram-sha-1', ctx), null);
    assert.equal(createMechanism('SCRAM-SHA-256-PLUS', context(new Map(), { secure: true })), null);
    assert.equal(createMechanism('SCRAM-SHA-256-PLUS', context(new Map(), { channelBinding: fakeBinding([]) })), null);
  });
});
