// Unit: XEP-0054 / XEP-0153 codec (server/modules/xep-0054-vcard/codec.ts).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  decodeBinval,
  emptyVCard,
  hasPhotoUpdate,
  NS_VCARD,
  NS_VCARD_UPDATE,
  parseStoredVCard,
  photoHash,
  serializeVCard,
  withPhotoUpdate,
} from '../../../server/modules/xep-0054-vcard/codec.js';
import { parseXml } from '../../../server/xml/element.js';

const IMAGE = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
const SHA1 = createHash('sha1').update(IMAGE).digest('hex');

describe('unit: vcard codec (XEP-0054, XEP-0153)', () => {
  it('builds an empty vCard in vcard-temp', () => {
    assert.equal(emptyVCard().toString(), `<vCard xmlns="${NS_VCARD}"/>`);
  });

  it('serializes a vCard and reads it back', () => {
    const el = parseXml("<vCard xmlns='vcard-temp'><FN>Juliet</FN><NICKNAME>jc</NICKNAME></vCard>");
    const text = serializeVCard(el);
    assert.ok(text);
    const back = parseStoredVCard(text);
    assert.ok(back.is('vCard', NS_VCARD));
    assert.equal(back.getChildText('FN'), 'Juliet');
    assert.equal(back.getChildText('NICKNAME'), 'jc');
  });

  it('treats a vCard without content as "no vCard" (XEP-0054 §3.2)', () => {
    assert.equal(serializeVCard(parseXml("<vCard xmlns='vcard-temp'/>")), null);
    assert.equal(serializeVCard(parseXml("<vCard xmlns='vcard-temp'>\n  </vCard>")), null);
  });

  it('refuses a stored record that is not a vcard-temp vCard', () => {
    assert.throws(() => parseStoredVCard("<query xmlns='jabber:iq:private'/>"));
  });

  it('hashes the decoded image data, ignoring whitespace in BINVAL (XEP-0153 §3.1, §4.5)', () => {
    const b64 = IMAGE.toString('base64');
    const wrapped = `${b64.slice(0, 8)}\n  ${b64.slice(8)}\r\n`;
    const el = parseXml(
      `<vCard xmlns='vcard-temp'><PHOTO><TYPE>image/png</TYPE><BINVAL>${wrapped}</BINVAL></PHOTO></vCard>`,
    );
    assert.equal(photoHash(el), SHA1);
    assert.match(SHA1, /^[0-9a-f]{40}$/);
  });

  it('has no hash without a PHOTO, with an empty BINVAL or with invalid base64', () => {
    assert.equal(photoHash(parseXml("<vCard xmlns='vcard-temp'><FN>x</FN></vCard>")), null);
    assert.equal(photoHash(parseXml("<vCard xmlns='vcard-temp'><PHOTO><BINVAL/></PHOTO></vCard>")), null);
    assert.equal(photoHash(parseXml("<vCard xmlns='vcard-temp'><PHOTO><BINVAL>@@@@</BINVAL></PHOTO></vCard>")), null);
    assert.equal(decodeBinval('abc'), null);
    assert.deepEqual(decodeBinval('aGk='), Buffer.from('hi'));
  });

  it('adds the update element to a copy and leaves the original untouched (XEP-0153 §4.1)', () => {
    const presence = parseXml("<presence from='a@localhost/r'><show>away</show></presence>");
    const before = presence.toString();
    const show = presence.getChild('show');
    const copy = withPhotoUpdate(presence, SHA1);
    assert.equal(presence.toString(), before);
    assert.equal(show?.parent, presence);
    assert.ok(!hasPhotoUpdate(presence));
    assert.ok(hasPhotoUpdate(copy));
    assert.equal(copy.attrs.from, 'a@localhost/r');
    assert.equal(copy.getChildText('show'), 'away');
    assert.equal(copy.getChild('x', NS_VCARD_UPDATE)?.getChildText('photo'), SHA1);
  });

  it('recognises an update element with or without a photo', () => {
    assert.ok(hasPhotoUpdate(parseXml("<presence><x xmlns='vcard-temp:x:update'/></presence>")));
    assert.ok(hasPhotoUpdate(parseXml("<presence><x xmlns='vcard-temp:x:update'><photo/></x></presence>")));
    assert.ok(!hasPhotoUpdate(parseXml("<presence><x xmlns='http://jabber.org/protocol/muc'/></presence>")));
  });
});
