import assert from 'node:assert/strict';
import { AddressMapper } from '../../../gateways/core/address.js';
import {
  checkRequired,
  mergeWithStored,
  parseSubmission,
  registrationQuery,
} from '../../../gateways/core/registration.js';
import { StanzaError } from '../../../server/errors/index.js';
import { Jid } from '../../../server/jid/index.js';
import { type Element, parseXml } from '../../../server/xml/element.js';
import { LoopbackNetwork, loopbackDriver } from '../../helpers/loopback-gateway.js';

const driver = loopbackDriver(new LoopbackNetwork());
const fields = driver.registration;
const q = (inner: string): Element => parseXml(`<query xmlns='jabber:iq:register'>${inner}</query>`);
const form = (type: string, f: Record<string, string>) =>
  `<x xmlns='jabber:x:data' type='${type}'>${Object.entries(f)
    .map(([k, v]) => `<field var='${k}'><value>${v}</value></field>`)
    .join('')}</x>`;
const condition = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof StanzaError) return err.condition;
    throw err;
  }
  return 'none';
};

describe('gateways/core registration codec (XEP-0077, XEP-0004)', () => {
  it('builds a form with FORM_TYPE, types, required, options and the legacy elements', () => {
    const query = registrationQuery(driver, 'gw.example', null);
    assert.equal(query.getChild('registered'), undefined);
    assert.equal(query.getChildText('username'), '');
    assert.equal(query.getChild('server'), undefined, 'server is not an XEP-0077 registered field name');
    const x = query.getChild('x', 'jabber:x:data')!;
    const f = new Map(x.getChildren('field').map((e) => [e.attrs.var, e]));
    assert.equal(f.get('FORM_TYPE')?.attrs.type, 'hidden');
    assert.equal(f.get('server')?.getChildText('value'), 'loop.example', 'default value');
    assert.equal(f.get('server')?.getChildren('option').length, 2);
    // XEP-0004 schema order: desc?, required?, value*, option*.
    const names = f
      .get('server')!
      .children.filter((c): c is Element => typeof c !== 'string')
      .map((c) => c.name);
    assert.deepEqual(names, ['value', 'option', 'option']);
    assert.ok(f.get('password')?.getChild('required'));
  });

  it('shows stored values of an existing registration, never the secret ones', () => {
    const stored = { form: { username: 'al', password: 'secret', server: 'other.example' }, cred: {}, at: '' };
    const query = registrationQuery(driver, 'gw.example', stored);
    assert.ok(query.getChild('registered'));
    assert.equal(query.getChildText('username'), 'al');
    assert.equal(query.getChildText('password'), '');
    assert.ok(!query.toString().includes('secret'));
  });

  it('reads a submitted form, dropping unknown fields and normalising values', () => {
    const sub = parseSubmission(
      q(form('submit', { FORM_TYPE: 'jabber:iq:register', username: 'al', password: 'p', evil: 'x' })),
      fields,
    );
    assert.deepEqual(sub, { kind: 'register', values: { username: 'al', password: 'p', server: 'loop.example' } });
  });

  it('reads the legacy elements when there is no form', () => {
    const sub = parseSubmission(q('<username>al</username><password>p</password>'), fields);
    assert.deepEqual(sub, { kind: 'register', values: { username: 'al', password: 'p', server: 'loop.example' } });
  });

  it('recognises remove and cancel', () => {
    assert.deepEqual(parseSubmission(q('<remove/>'), fields), { kind: 'remove' });
    assert.deepEqual(parseSubmission(q(form('cancel', {})), fields), { kind: 'cancel' });
  });

  it('rejects malformed submissions', () => {
    assert.equal(
      condition(() => parseSubmission(q(form('form', { username: 'a' })), fields)),
      'bad-request',
    );
    assert.equal(
      condition(() => parseSubmission(q(form('submit', { FORM_TYPE: 'urn:other' })), fields)),
      'bad-request',
    );
    assert.equal(
      condition(() => parseSubmission(q(form('submit', { server: 'nope' })), fields)),
      'not-acceptable',
    );
    const twice = `<x xmlns='jabber:x:data' type='submit'><field var='a'/><field var='a'/></x>`;
    assert.equal(
      condition(() => parseSubmission(q(twice), fields)),
      'bad-request',
    );
  });

  it('keeps a stored secret left empty on edit, then checks required fields', () => {
    const stored = { form: { username: 'al', password: 'old' }, cred: {}, at: '' };
    const merged = mergeWithStored({ username: 'bo' }, fields, stored);
    assert.deepEqual(merged, { username: 'bo', password: 'old' });
    checkRequired(merged, fields);
    assert.equal(
      condition(() => checkRequired({ username: 'bo' }, fields)),
      'not-acceptable',
    );
  });
});

describe('gateways/core AddressMapper (XEP-0100 §6.3, XEP-0106)', () => {
  const m = new AddressMapper(driver.address, 'gw.example');
  it('escapes legacy ids into localparts and back', () => {
    const jid = m.toJid("o'hara smith@loop.example");
    assert.equal(jid.toString(), 'o\\27hara\\20smith\\40loop.example@gw.example');
    assert.equal(m.fromJid(jid), "o'hara smith@loop.example");
  });
  it('ignores JIDs of other domains and the gateway itself', () => {
    assert.equal(m.fromJid(Jid.parse('a\\40b@other.example')), null);
    assert.equal(m.fromJid(Jid.parse('gw.example')), null);
  });
  it('translates user input, or refuses it', () => {
    assert.equal(m.translate(' Bob@Loop.Example ')?.toString(), 'bob\\40loop.example@gw.example');
    assert.equal(m.translate('nothing'), null);
  });
  it('returns null for ids XEP-0106 cannot carry (edge spaces)', () => {
    const edge = new AddressMapper({ ...driver.address, toLocal: (id) => ` ${id}` }, 'gw.example');
    assert.equal(edge.tryToJid('x@y'), null);
  });
});
