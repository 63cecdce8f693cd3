// Unit: XEP-0313 codecs: query parsing, result and fin, query form, preferences (XEP-0441), archive ids, rules.
import assert from 'node:assert/strict';
import { StanzaError } from '../../../server/errors/index.js';
import { Jid } from '../../../server/jid/index.js';
import { NS_RSM } from '../../../server/modules/xep-0059-rsm/codec.js';
import {
  FIELD_FULLTEXT,
  finElement,
  metadataElement,
  NS_MAM,
  parseQuery,
  queryFormElement,
  resultMessage,
} from '../../../server/modules/xep-0313-mam/codec.js';
import { ArchiveIds } from '../../../server/modules/xep-0313-mam/ids.js';
import { parsePrefs, prefsDecision, prefsElement } from '../../../server/modules/xep-0313-mam/prefs-codec.js';
import { archivable, searchText } from '../../../server/modules/xep-0313-mam/rules.js';
import { parseXml } from '../../../server/xml/element.js';
import { NS_DATA_FORMS, parseForm } from '../../../server/xml/forms.js';
import { forwardedStanza } from '../../../server/xml/forward.js';

const condition = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (err instanceof StanzaError) return err.condition;
    throw err;
  }
  throw new Error('no error thrown');
};
const field = (name: string, ...values: string[]) =>
  `<field var='${name}'>${values.map((v) => `<value>${v}</value>`).join('')}</field>`;
const query = (fields: string, extra = '', attrs = "queryid='q1'") =>
  parseXml(
    `<query xmlns='${NS_MAM}' ${attrs}><x xmlns='${NS_DATA_FORMS}' type='submit'>` +
      `${field('FORM_TYPE', NS_MAM)}${fields}</x>${extra}</query>`,
  );

describe('XEP-0313 codecs', () => {
  describe('parseQuery (§4.1)', () => {
    it('reads with, start, end, full text, id bounds, RSM and flip-page', () => {
      const q = parseQuery(
        query(
          field('with', 'Juliet@Capulet.lit') +
            field('start', '2010-06-07T00:00:00Z') +
            field('end', '2010-07-07T13:23:54.5+02:00') +
            field(FIELD_FULLTEXT, 'balcony') +
            field('after-id', 'A') +
            field('before-id', 'B'),
          `<set xmlns='${NS_RSM}'><max>10</max><before/></set><flip-page/>`,
        ),
      );
      assert.equal(q.queryId, 'q1');
      assert.equal(q.with?.toString(), 'juliet@capulet.lit');
      assert.equal(q.start?.toISOString(), '2010-06-07T00:00:00.000Z');
      assert.equal(q.end?.toISOString(), '2010-07-07T11:23:54.500Z');
      assert.equal(q.text, 'balcony');
      assert.equal(q.afterId, 'A');
      assert.equal(q.beforeId, 'B');
      assert.deepEqual(q.rsm, { max: 10, before: '' });
      assert.equal(q.flip, true);
    });

    it('accepts a query without a form, and empty fields as absent', () => {
      const bare = parseQuery(parseXml(`<query xmlns='${NS_MAM}'/>`));
      assert.deepEqual(bare, { flip: false });
      const q = parseQuery(query(field('with') + field('start', '')));
      assert.equal(q.with, undefined);
      assert.equal(q.start, undefined);
    });

    it('reads the ids of single-item retrieval', () => {
      assert.deepEqual(parseQuery(query(field('ids', 'a', 'b'))).ids, ['a', 'b']);
    });

    it('answers feature-not-implemented for an unknown field (§4.1.5)', () => {
      assert.equal(
        condition(() => parseQuery(query(field('include-groupchat', 'true')))),
        'feature-not-implemented',
      );
    });

    it('refuses bad dates, bad JIDs, another FORM_TYPE, a non-submit form and a pubsub node', () => {
      assert.equal(
        condition(() => parseQuery(query(field('start', 'yesterday')))),
        'bad-request',
      );
      assert.equal(
        condition(() => parseQuery(query(field('end', '2010-06-07')))),
        'bad-request',
      );
      assert.equal(
        condition(() => parseQuery(query(field('with', 'a@b@c')))),
        'jid-malformed',
      );
      const other = `<query xmlns='${NS_MAM}'><x xmlns='${NS_DATA_FORMS}' type='submit'>${field('FORM_TYPE', 'urn:x')}</x></query>`;
      assert.equal(
        condition(() => parseQuery(parseXml(other))),
        'bad-request',
      );
      const form = `<query xmlns='${NS_MAM}'><x xmlns='${NS_DATA_FORMS}' type='form'/></query>`;
      assert.equal(
        condition(() => parseQuery(parseXml(form))),
        'bad-request',
      );
      assert.equal(
        condition(() => parseQuery(parseXml(`<query xmlns='${NS_MAM}' node='n'/>`))),
        'item-not-found',
      );
    });
  });

  it('offers a form with the mandatory and extended fields, none required (§4.1.5)', () => {
    const x = queryFormElement().getChild('x', NS_DATA_FORMS);
    assert.ok(x);
    const form = parseForm(x);
    assert.equal(form.type, 'form');
    assert.deepEqual(
      form.fields.map((f) => [f.var, f.type]),
      [
        ['FORM_TYPE', 'hidden'],
        ['with', 'jid-single'],
        ['start', 'text-single'],
        ['end', 'text-single'],
        ['before-id', 'text-single'],
        ['after-id', 'text-single'],
        ['ids', 'list-multi'],
        [FIELD_FULLTEXT, 'text-single'],
      ],
    );
    assert.equal(x.toString().includes('required'), false);
  });

  it('wraps a result with queryid, id, delay and the forwarded message (§4.2), and a fin (§4.3.2)', () => {
    const m = resultMessage({
      to: 'juliet@capulet.lit/chamber',
      from: 'juliet@capulet.lit',
      stanzaId: 's1',
      queryId: 'f27',
      id: 'ID1',
      when: new Date('2010-07-10T23:08:25Z'),
      message: parseXml("<message from='witch@shakespeare.lit' to='juliet@capulet.lit'><body>Hail</body></message>"),
    });
    const result = m.getChild('result', NS_MAM);
    assert.equal(result?.attrs.queryid, 'f27');
    assert.equal(result?.attrs.id, 'ID1');
    const fwd = result?.getChild('forwarded', 'urn:xmpp:forward:0');
    assert.equal(fwd?.getChild('delay', 'urn:xmpp:delay')?.attrs.stamp, '2010-07-10T23:08:25.000Z');
    assert.equal(result && forwardedStanza(result)?.getChildText('body'), 'Hail');
    const fin = finElement(true, { first: 'a', last: 'b', count: 2 });
    assert.equal(fin.attrs.complete, 'true');
    assert.equal(finElement(false, {}).attrs.complete, undefined);
    assert.equal(metadataElement().children.length, 0);
  });

  describe('preferences (XEP-0441)', () => {
    it('parses and writes default, always and never; both lists always present', () => {
      const p = parsePrefs(
        parseXml(
          `<prefs xmlns='${NS_MAM}' default='roster'><always><jid>Romeo@Montague.lit</jid></always><never/></prefs>`,
        ),
      );
      assert.deepEqual(p, { default: 'roster', always: ['romeo@montague.lit'], never: [] });
      assert.equal(
        prefsElement({ default: 'never', always: [], never: [] }).toString(),
        `<prefs xmlns="${NS_MAM}" default="never"><always/><never/></prefs>`,
      );
      assert.equal(
        condition(() => parsePrefs(parseXml(`<prefs xmlns='${NS_MAM}'/>`))),
        'bad-request',
      );
      assert.equal(
        condition(() => parsePrefs(parseXml(`<prefs xmlns='${NS_MAM}' default='often'/>`))),
        'bad-request',
      );
    });

    it('matches bare entries on the bare JID and full entries exactly (§2.3.1); never wins', () => {
      const p = { default: 'always' as const, always: ['a@x/res'], never: ['b@x', 'a@x/other'] };
      assert.equal(prefsDecision(p, Jid.parse('b@x/any')), 'skip');
      assert.equal(prefsDecision(p, Jid.parse('a@x/other')), 'skip');
      assert.equal(prefsDecision({ ...p, default: 'never' }, Jid.parse('a@x/res')), 'archive');
      assert.equal(prefsDecision({ ...p, default: 'never' }, Jid.parse('a@x/third')), 'skip');
      assert.equal(prefsDecision({ ...p, default: 'roster' }, Jid.parse('c@x')), 'roster');
    });
  });

  describe('archive ids', () => {
    const ids = new ArchiveIds(Buffer.alloc(16, 7));

    it('are unpredictable-looking, stable and reversible', () => {
      const a = ids.encode('1');
      const b = ids.encode('2');
      assert.match(a, /^[A-Za-z0-9_-]{22}$/);
      assert.notEqual(a, b);
      assert.equal(ids.encode('1'), a);
      assert.equal(ids.decode(a), '1');
      assert.equal(ids.decode(ids.encode('9007199254740991')), '9007199254740991');
    });

    it('reject ids made elsewhere', () => {
      assert.equal(ids.decode('1'), null);
      assert.equal(ids.decode(new ArchiveIds(Buffer.alloc(16, 8)).encode('1')), null);
      assert.equal(ids.decode('AAAAAAAAAAAAAAAAAAAAAA'), null);
    });
  });

  describe('archiving rules (§6.1.1, XEP-0334)', () => {
    const m = (s: string) => parseXml(s);
    it('keeps chat and normal messages with a body', () => {
      assert.equal(archivable(m("<message type='chat'><body>x</body></message>")), true);
      assert.equal(archivable(m('<message><body>x</body></message>')), true);
    });
    it('leaves out groupchat, headline, error and body-less messages', () => {
      for (const t of ['groupchat', 'headline', 'error']) {
        assert.equal(archivable(m(`<message type='${t}'><body>x</body></message>`)), false, t);
      }
      assert.equal(
        archivable(m("<message type='chat'><active xmlns='http://jabber.org/protocol/chatstates'/></message>")),
        false,
      );
    });
    it('honours no-store, no-permanent-store and store hints', () => {
      const h = (hint: string, body = '<body>x</body>') =>
        m(`<message type='chat'>${body}<${hint} xmlns='urn:xmpp:hints'/></message>`);
      assert.equal(archivable(h('no-store')), false);
      assert.equal(archivable(h('no-permanent-store')), false);
      assert.equal(archivable(h('store', '')), true);
      assert.equal(archivable(h('no-copy')), true);
    });
    it('searches the bodies', () => {
      assert.equal(searchText(m('<message><body>Hello</body></message>')), 'Hello');
      assert.equal(searchText(m('<message/>')), undefined);
    });
  });
});
