// XEP-0004 Data Forms: a pure codec for the <x xmlns='jabber:x:data'/> element (no I/O, DESIGN §1).
import { StanzaError } from '../errors/index.js';
import { type Element, xml } from './element.js';

export const NS_DATA_FORMS = 'jabber:x:data';

/** XEP-0004 §3.1: the form types. */
export type FormType = 'form' | 'submit' | 'cancel' | 'result';

/** XEP-0004 §3.3: the field types. */
export type FieldType =
  | 'boolean'
  | 'fixed'
  | 'hidden'
  | 'jid-multi'
  | 'jid-single'
  | 'list-multi'
  | 'list-single'
  | 'text-multi'
  | 'text-private'
  | 'text-single';

const FORM_TYPES: readonly string[] = ['form', 'submit', 'cancel', 'result'];

export interface FormField {
  var: string;
  type?: FieldType;
  label?: string;
  values: string[];
  /** XEP-0004 §3.2 `<desc/>` (forms of type 'form'); ignored when parsing. */
  desc?: string;
  /** XEP-0004 §3.2 `<required/>`; ignored when parsing. */
  required?: boolean;
  /** XEP-0004 §3.2 `<option/>` for list-* fields; ignored when parsing. */
  options?: { label?: string; value: string }[];
  /** Extra children written after the values (e.g. an XEP-0122 <validate/>); ignored when parsing. */
  extra?: Element[];
}

export interface DataForm {
  type: FormType;
  title?: string;
  instructions?: string;
  fields: FormField[];
}

/**
 * Reads a data form. Fields without a 'var' are skipped (XEP-0004 §3.2: only 'fixed' fields may lack one, and
 * they carry no data); a malformed form (wrong type, a field given twice) is a bad-request.
 */
export function parseForm(x: Element): DataForm {
  if (!x.is('x', NS_DATA_FORMS)) throw StanzaError.badRequest('not a jabber:x:data form');
  const type = x.attrs.type ?? '';
  if (!FORM_TYPES.includes(type))
    throw StanzaError.badRequest(`data form type must be one of ${FORM_TYPES.join(', ')}`);
  const form: DataForm = { type: type as FormType, fields: [] };
  const title = x.getChildText('title');
  if (title !== null) form.title = title;
  const instructions = x.getChildText('instructions');
  if (instructions !== null) form.instructions = instructions;
  const seen = new Set<string>();
  for (const f of x.getChildren('field')) {
    const name = f.attrs.var;
    if (name === undefined) continue;
    // XEP-0004 §3.2: a 'var' is unique within a form.
    if (seen.has(name)) throw StanzaError.badRequest(`data form field ${name} appears twice`);
    seen.add(name);
    const field: FormField = { var: name, values: f.getChildren('value').map((v) => v.getText()) };
    if (f.attrs.type !== undefined) field.type = f.attrs.type as FieldType;
    if (f.attrs.label !== undefined) field.label = f.attrs.label;
    form.fields.push(field);
  }
  return form;
}

/** The first value of a field, or undefined when the field is absent or empty. */
export function fieldValue(form: DataForm, name: string): string | undefined {
  return form.fields.find((f) => f.var === name)?.values[0];
}

/** XEP-0068 §3: the value of the hidden FORM_TYPE field, if any. */
export function formType(form: DataForm): string | undefined {
  return fieldValue(form, 'FORM_TYPE');
}

export function formElement(form: DataForm): Element {
  const x = xml('x', { xmlns: NS_DATA_FORMS, type: form.type });
  if (form.title !== undefined) x.cnode(xml('title', {}, form.title));
  if (form.instructions !== undefined) x.cnode(xml('instructions', {}, form.instructions));
  for (const f of form.fields) {
    const field = xml('field', { var: f.var, type: f.type, label: f.label });
    // XEP-0004 §3.2 and its schema: desc, required, values, then options.
    if (f.desc !== undefined) field.cnode(xml('desc', {}, f.desc));
    if (f.required) field.cnode(xml('required'));
    for (const v of f.values) field.cnode(xml('value', {}, v));
    for (const o of f.options ?? []) field.cnode(xml('option', { label: o.label }, xml('value', {}, o.value)));
    for (const e of f.extra ?? []) field.cnode(e);
    x.cnode(field);
  }
  return x;
}
