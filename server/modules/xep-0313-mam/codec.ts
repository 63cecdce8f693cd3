// XEP-0313 Message Archive Management: the query (§4.1 form, §4.3 paging), its results (§4.2) and <fin/>,
// the query form (§4.1.5) and archive metadata (§5). Pure (DESIGN §1); preferences live in prefs-codec.ts.
import { StanzaError } from '../../errors/index.js';
import { Jid } from '../../jid/index.js';
import { type Element, xml } from '../../xml/element.js';
import { type DataForm, formElement, formType, NS_DATA_FORMS, parseForm } from '../../xml/forms.js';
import { forwarded } from '../../xml/forward.js';
import { parseRsmRequest, type RsmRequest, type RsmResponse, rsmResponseElement } from '../xep-0059-rsm/codec.js';

export const NS_MAM = 'urn:xmpp:mam:2';
/** §7: before-id / after-id / ids, flipped pages and metadata are supported. */
export const NS_MAM_EXTENDED = 'urn:xmpp:mam:2#extended';
/** XEP-0431 Full Text Search in MAM: the form field and feature. */
export const NS_FULLTEXT = 'urn:xmpp:fulltext:0';
export const FIELD_FULLTEXT = `{${NS_FULLTEXT}}fulltext`;
const NS_XDATA_VALIDATE = 'http://jabber.org/protocol/xdata-validate';

export interface MamQuery {
  queryId?: string;
  /** §4.1.1: a bare JID matches either party ignoring resources; a full JID matches exactly. */
  with?: Jid;
  /** §4.1.2: inclusive bounds on the time the message was archived. */
  start?: Date;
  end?: Date;
  /** XEP-0431: words the body must contain. */
  text?: string;
  /** §4.1.3: exclusive archive-id bounds, independent of the RSM paging direction. */
  afterId?: string;
  beforeId?: string;
  /** §4.1.3: single-item retrieval. */
  ids?: string[];
  rsm?: RsmRequest;
  /** §4.3.4: send the page newest first. */
  flip: boolean;
}

const KNOWN_FIELDS = new Set(['FORM_TYPE', 'with', 'start', 'end', 'before-id', 'after-id', 'ids', FIELD_FULLTEXT]);
/** XEP-0082 §3.3 DateTime: CCYY-MM-DDThh:mm:ss[.sss]TZD. */
const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function parseDateTime(value: string, field: string): Date {
  const ms = DATETIME.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) throw StanzaError.badRequest(`field ${field} must be an XEP-0082 DateTime`);
  return new Date(ms);
}

function applyForm(q: MamQuery, form: DataForm): void {
  // §4.1: the hidden FORM_TYPE names this protocol; a form of another type is not a MAM query.
  const type = formType(form);
  if (type !== undefined && type !== NS_MAM) throw StanzaError.badRequest(`FORM_TYPE must be ${NS_MAM}`);
  for (const field of form.fields) {
    // §4.1.5: a field the server does not recognise is feature-not-implemented.
    if (!KNOWN_FIELDS.has(field.var)) throw StanzaError.featureNotImplemented(`unknown field ${field.var}`);
  }
  const value = (name: string): string | undefined => {
    const v = form.fields.find((f) => f.var === name)?.values[0]?.trim();
    return v === '' ? undefined : v;
  };
  const withValue = value('with');
  if (withValue !== undefined) {
    const jid = Jid.tryParse(withValue);
    if (!jid) throw StanzaError.jidMalformed(`with: not a valid JID: ${withValue}`);
    q.with = jid;
  }
  const start = value('start');
  if (start !== undefined) q.start = parseDateTime(start, 'start');
  const end = value('end');
  if (end !== undefined) q.end = parseDateTime(end, 'end');
  const text = value(FIELD_FULLTEXT);
  if (text !== undefined) q.text = text;
  const afterId = value('after-id');
  if (afterId !== undefined) q.afterId = afterId;
  const beforeId = value('before-id');
  if (beforeId !== undefined) q.beforeId = beforeId;
  const ids = form.fields.find((f) => f.var === 'ids')?.values.filter((v) => v !== '');
  if (ids !== undefined && ids.length > 0) q.ids = ids;
}

/** Reads an archive query (§4). Throws StanzaError for what a client must be told about. */
export function parseQuery(payload: Element): MamQuery {
  // The 'node' attribute is for pubsub archives (XEP-0442), which a user archive does not have.
  if (payload.attrs.node !== undefined) throw StanzaError.itemNotFound('this archive has no nodes');
  const q: MamQuery = { flip: payload.getChild('flip-page', NS_MAM) !== undefined };
  if (payload.attrs.queryid !== undefined) q.queryId = payload.attrs.queryid;
  const x = payload.getChild('x', NS_DATA_FORMS);
  if (x) {
    const form = parseForm(x);
    if (form.type !== 'submit') throw StanzaError.badRequest('the query form must be of type submit');
    applyForm(q, form);
  }
  const rsm = parseRsmRequest(payload);
  if (rsm) q.rsm = rsm;
  return q;
}

/** §4.1.5: the fields a query may use. None is marked required (§4.1). */
export function queryFormElement(): Element {
  const validate = xml('validate', { xmlns: NS_XDATA_VALIDATE, datatype: 'xs:string' }, xml('open'));
  return xml(
    'query',
    { xmlns: NS_MAM },
    formElement({
      type: 'form',
      fields: [
        { var: 'FORM_TYPE', type: 'hidden', values: [NS_MAM] },
        { var: 'with', type: 'jid-single', values: [] },
        { var: 'start', type: 'text-single', values: [] },
        { var: 'end', type: 'text-single', values: [] },
        { var: 'before-id', type: 'text-single', values: [] },
        { var: 'after-id', type: 'text-single', values: [] },
        { var: 'ids', type: 'list-multi', values: [], extra: [validate] },
        { var: FIELD_FULLTEXT, type: 'text-single', values: [] },
      ],
    }),
  );
}

export interface ResultMessage {
  /** The requesting resource and the archive's address (§8.2: clients check it). */
  to: string;
  from: string;
  /** A fresh stanza id for the result message itself. */
  stanzaId: string;
  queryId?: string;
  /** The archive id of the item. */
  id: string;
  /** §4.2: when the message was archived, as an XEP-0203 delay. */
  when: Date;
  message: Element;
}

/** §4.2: one result, the archived message forwarded (XEP-0297) with its delay. */
export function resultMessage(r: ResultMessage): Element {
  return xml(
    'message',
    { to: r.to, from: r.from, id: r.stanzaId },
    xml('result', { xmlns: NS_MAM, queryid: r.queryId, id: r.id }, forwarded(r.message, { stamp: r.when })),
  );
}

/** §4.3.2: the iq result after the results; complete when no page remains in the paging direction. */
export function finElement(complete: boolean, rsm: RsmResponse): Element {
  return xml('fin', { xmlns: NS_MAM, complete: complete ? 'true' : undefined }, rsmResponseElement(rsm));
}

/** §5: the first and last items of the archive; both absent when it is empty. */
export function metadataElement(start?: { id: string; when: Date }, end?: { id: string; when: Date }): Element {
  const md = xml('metadata', { xmlns: NS_MAM });
  if (start && end) {
    md.cnode(xml('start', { id: start.id, timestamp: start.when.toISOString() }));
    md.cnode(xml('end', { id: end.id, timestamp: end.when.toISOString() }));
  }
  return md;
}
