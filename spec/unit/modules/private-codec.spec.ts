// Unit: XEP-0049 codec (server/modules/xep-0049-private/codec.ts).
import assert from 'node:assert/strict';
import { StanzaError } from '../../../server/errors/index.js';
import {
  fragmentBytes,
  isReservedNamespace,
  NS_PRIVATE,
  parsePrivateGet,
  parsePrivateSet,
  privateResult,
} from '../../../server/modules/xep-0049-private/codec.js';
import { parseXml } from '../../../server/xml/element.js';

const SERVER_NS = new Set(['jabber:iq:roster', 'urn:xmpp:ping']);

function condition(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof StanzaError) return err.condition;
    throw err;
  }
  return 'none';
}

describe('unit: private XML storage codec (XEP-0049)', () => {
  it('reserves the stream, private, vCard and server namespaces (§2.3)', () => {
    for (const ns of ['jabber:client', 'jabber:server', NS_PRIVATE, 'vcard-temp', 'jabber:iq:roster']) {
      assert.ok(isReservedNamespace(ns, SERVER_NS), ns);
    }
    assert.ok(isReservedNamespace('jabber:iq:roster', new Set()));
    assert.ok(!isReservedNamespace('urn:xmpp:ping', new Set()));
    assert.ok(!isReservedNamespace('storage:bookmarks', SERVER_NS));
  });

  it('parses a get naming one namespace', () => {
    const q = parseXml("<query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query>");
    const { ns, request } = parsePrivateGet(q, SERVER_NS);
    assert.equal(ns, 'storage:bookmarks');
    assert.equal(request.name, 'storage');
  });

  it('refuses a get without a child or with two (§2.3)', () => {
    assert.equal(
      condition(() => parsePrivateGet(parseXml("<query xmlns='jabber:iq:private'/>"), SERVER_NS)),
      'bad-request',
    );
    const two = parseXml("<query xmlns='jabber:iq:private'><a xmlns='x:a'/><b xmlns='x:b'/></query>");
    assert.equal(
      condition(() => parsePrivateGet(two, SERVER_NS)),
      'bad-request',
    );
  });

  it('refuses reserved or missing namespaces with not-acceptable (§2.3)', () => {
    for (const child of ["<vCard xmlns='vcard-temp'/>", "<query xmlns='jabber:iq:roster'/>", '<prefs/>']) {
      const q = parseXml(`<query xmlns='jabber:iq:private'>${child}</query>`);
      assert.equal(
        condition(() => parsePrivateSet(q, SERVER_NS)),
        'not-acceptable',
        child,
      );
      assert.equal(
        condition(() => parsePrivateGet(q, SERVER_NS)),
        'not-acceptable',
        child,
      );
    }
  });

  it('refuses a set without content with not-acceptable (§2.3)', () => {
    assert.equal(
      condition(() => parsePrivateSet(parseXml("<query xmlns='jabber:iq:private'/>"), SERVER_NS)),
      'not-acceptable',
    );
  });

  it('groups the elements of a set by namespace, in order', () => {
    const q = parseXml(
      "<query xmlns='jabber:iq:private'><a xmlns='x:1'>1</a><b xmlns='x:2'/><c xmlns='x:1'>3</c></query>",
    );
    const groups = parsePrivateSet(q, SERVER_NS);
    assert.deepEqual([...groups.keys()], ['x:1', 'x:2']);
    assert.deepEqual(groups.get('x:1'), ['<a xmlns="x:1">1</a>', '<c xmlns="x:1">3</c>']);
    assert.equal(fragmentBytes(groups.get('x:1') ?? []), 40);
  });

  it('answers with the stored elements, or echoes the empty request when nothing is stored', () => {
    const request = parseXml("<storage xmlns='storage:bookmarks'><junk/></storage>");
    assert.equal(
      privateResult(request, null).toString(),
      `<query xmlns="${NS_PRIVATE}"><storage xmlns="storage:bookmarks"/></query>`,
    );
    const stored = ['<storage xmlns="storage:bookmarks"><url name="x" url="https://x.example/"/></storage>'];
    assert.equal(privateResult(request, stored).toString(), `<query xmlns="${NS_PRIVATE}">${stored[0]}</query>`);
  });
});
