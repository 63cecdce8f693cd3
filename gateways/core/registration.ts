// XEP-0077 In-Band Registration with a gateway (XEP-0100 §4.1–§4.3): a pure codec between the driver's
// RegistrationField list and the jabber:iq:register query, with its XEP-0004 data form (XEP-0077 §6).
import { StanzaError } from '../../server/errors/index.js';
import { type Element, xml } from '../../server/xml/element.js';
import { type DataForm, type FormField, formElement, formType, parseForm } from '../../server/xml/forms.js';
import { NS } from '../../server/xml/ns.js';
import type { GatewayDriver, RegistrationField } from './driver.js';

/**
 * The element names of the jabber:iq:register schema (XEP-0077 §14 XML schema, registered fields). A driver
 * field with one of these vars is also offered as the legacy element, for clients without data forms.
 */
const LEGACY_FIELDS: ReadonlySet<string> = new Set([
  'username',
  'nick',
  'password',
  'name',
  'first',
  'last',
  'email',
  'address',
  'city',
  'state',
  'zip',
  'phone',
  'url',
  'date',
  'misc',
  'text',
  'key',
]);

/** What a user has registered: the submitted values (to show and edit later) and the driver's credentials. */
export interface Registration<Cred = unknown> {
  /** Field var → value as submitted (secret values included: they are replayed to the legacy network). */
  form: Record<string, string>;
  cred: Cred;
  /** ISO 8601 time of the last (re-)registration. */
  at: string;
}

export type Submission = { kind: 'remove' } | { kind: 'cancel' } | { kind: 'register'; values: Record<string, string> };

const isSecret = (f: RegistrationField): boolean => f.secret ?? f.type === 'text-private';

/** The value shown for a field: the stored one unless secret (XEP-0077 §3.2 lets a server omit it), else the default. */
function shownValue(f: RegistrationField, stored: Registration | null): string | undefined {
  if (stored) return isSecret(f) ? undefined : stored.form[f.var];
  return f.default;
}

/** XEP-0077 §3.1 (new) and §3.2 (`<registered/>`): the registration query a `get` is answered with. */
export function registrationQuery(driver: GatewayDriver, domain: string, stored: Registration | null): Element {
  const name = driver.name ?? `${driver.kind.toUpperCase()} gateway`;
  const instructions = driver.instructions ?? `Enter your ${driver.kind.toUpperCase()} account details for ${domain}.`;
  const query = xml('query', { xmlns: NS.REGISTER }, xml('instructions', null, instructions));
  if (stored) query.cnode(xml('registered'));
  for (const f of driver.registration) {
    if (LEGACY_FIELDS.has(f.var)) query.cnode(xml(f.var, null, shownValue(f, stored) ?? ''));
  }
  const fields: FormField[] = [{ var: 'FORM_TYPE', type: 'hidden', values: [NS.REGISTER] }];
  for (const f of driver.registration) {
    const field: FormField = { var: f.var, type: f.type, label: f.label, values: [] };
    const v = shownValue(f, stored);
    if (v !== undefined) field.values = f.type === 'list-multi' || f.type === 'text-multi' ? v.split('\n') : [v];
    if (f.desc !== undefined) field.desc = f.desc;
    if (f.required) field.required = true;
    if (f.options) field.options = f.options.map((o) => ({ label: o.label, value: o.value }));
    fields.push(field);
  }
  const form: DataForm = { type: 'form', title: `Register with ${name}`, instructions, fields };
  query.cnode(formElement(form));
  return query;
}

/**
 * Reads a `set`: `<remove/>` (XEP-0077 §3.2), a submitted data form (XEP-0077 §6: it wins over legacy elements)
 * or the legacy elements. Values are checked against the driver's fields; throws StanzaError.
 */
export function parseSubmission(query: Element, fields: readonly RegistrationField[]): Submission {
  if (query.getChild('remove')) return { kind: 'remove' };
  const x = query.getChild('x', NS.DATA_FORMS);
  const raw = new Map<string, string>();
  if (x) {
    const form = parseForm(x);
    // XEP-0004 §3.1: 'cancel' abandons the registration; the gateway stores nothing.
    if (form.type === 'cancel') return { kind: 'cancel' };
    if (form.type !== 'submit') throw StanzaError.badRequest('the registration form must be of type submit');
    const ft = formType(form);
    if (ft !== undefined && ft !== NS.REGISTER) throw StanzaError.badRequest(`unexpected FORM_TYPE ${ft}`);
    for (const f of form.fields) if (f.var !== 'FORM_TYPE') raw.set(f.var, f.values.join('\n'));
  } else {
    for (const f of fields) {
      const text = LEGACY_FIELDS.has(f.var) ? query.getChildText(f.var) : null;
      if (text !== null) raw.set(f.var, text);
    }
  }
  return { kind: 'register', values: checkValues(raw, fields) };
}

/** XEP-0004 §3.2–§3.3 rules for each declared field; unknown vars are dropped, never passed to the driver. */
function checkValues(raw: ReadonlyMap<string, string>, fields: readonly RegistrationField[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fields) {
    if (f.type === 'fixed') continue;
    let v = raw.get(f.var);
    if (v === undefined || v === '') v = f.default;
    // Required values are checked by missingRequired() after mergeWithStored(): an edit may leave secrets out.
    if (v === undefined || v === '') continue;
    if (f.type === 'boolean') {
      if (v !== '0' && v !== '1' && v !== 'false' && v !== 'true') {
        throw StanzaError.notAcceptable(`${f.var} must be a boolean (XEP-0004 §3.3)`);
      }
      v = v === '1' || v === 'true' ? 'true' : 'false';
    }
    if ((f.type === 'list-single' || f.type === 'list-multi') && f.options) {
      const allowed = new Set(f.options.map((o) => o.value));
      for (const one of v.split('\n')) {
        if (!allowed.has(one)) throw StanzaError.notAcceptable(`${one} is not an option of ${f.var}`);
      }
    }
    out[f.var] = v;
  }
  return out;
}

/**
 * XEP-0100 §4.2 (edit registration): a secret field left empty keeps its stored value, so a user can change their
 * nick without retyping the password.
 */
export function mergeWithStored(
  values: Record<string, string>,
  fields: readonly RegistrationField[],
  stored: Registration | null,
): Record<string, string> {
  if (!stored) return values;
  const out = { ...values };
  for (const f of fields) {
    const old = stored.form[f.var];
    if (isSecret(f) && out[f.var] === undefined && old !== undefined) out[f.var] = old;
  }
  return out;
}

/** XEP-0077 §3.1 / XEP-0004 §3.2 `<required/>`: a required value still missing is not-acceptable. */
export function checkRequired(values: Record<string, string>, fields: readonly RegistrationField[]): void {
  const missing = fields.filter((f) => f.required && f.type !== 'fixed' && !values[f.var]);
  if (missing.length > 0) {
    throw StanzaError.notAcceptable(`required: ${missing.map((f) => `${f.label} (${f.var})`).join(', ')}`);
  }
}
