// Unit: XEP-0004 data form codec (server/xml/forms.ts).
import assert from 'node:assert/strict';
import { StanzaError } from '../../../server/errors/index.js';
import { parseXml } from '../../../server/xml/element.js';
import { fieldValue, formElement, formType, NS_DATA_FORMS, parseForm } from '../../../server/xml/forms.js';

const condition = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (err instanceof StanzaError) return err.condition;
    throw err;
  }
  throw new Error('no error thrown');
};

describe('XEP-0004 data forms codec', () => {
  it('reads type, title, instructions and fields with their values (§3.1–§3.3)', () => {
    const form = parseForm(
      parseXml(
        `<x xmlns='${NS_DATA_FORMS}' type='submit'><title>T</title><instructions>I</instructions>` +
          "<field var='FORM_TYPE' type='hidden'><value>urn:x</value></field>" +
          "<field var='multi' type='list-multi' label='L'><value>a</value><value>b</value></field>" +
          "<field var='empty'/><field type='fixed'><value>ignored: no var</value></field></x>",
      ),
    );
    assert.equal(form.type, 'submit');
    assert.equal(form.title, 'T');
    assert.equal(form.instructions, 'I');
    assert.equal(formType(form), 'urn:x');
    assert.deepEqual(
      form.fields.map((f) => [f.var, f.type, f.values]),
      [
        ['FORM_TYPE', 'hidden', ['urn:x']],
        ['multi', 'list-multi', ['a', 'b']],
        ['empty', undefined, []],
      ],
    );
    assert.equal(form.fields[1]?.label, 'L');
    assert.equal(fieldValue(form, 'multi'), 'a');
    assert.equal(fieldValue(form, 'empty'), undefined);
    assert.equal(fieldValue(form, 'absent'), undefined);
  });

  it('refuses a wrong form type, a duplicated field and a foreign element with bad-request', () => {
    assert.equal(
      condition(() => parseForm(parseXml(`<x xmlns='${NS_DATA_FORMS}' type='bogus'/>`))),
      'bad-request',
    );
    assert.equal(
      condition(() => parseForm(parseXml(`<x xmlns='${NS_DATA_FORMS}'/>`))),
      'bad-request',
    );
    assert.equal(
      condition(() =>
        parseForm(parseXml(`<x xmlns='${NS_DATA_FORMS}' type='submit'><field var='a'/><field var='a'/></x>`)),
      ),
      'bad-request',
    );
    assert.equal(
      condition(() => parseForm(parseXml("<x xmlns='urn:other' type='submit'/>"))),
      'bad-request',
    );
  });

  it('round-trips through formElement, with extra children after the values', () => {
    const el = formElement({
      type: 'form',
      title: 'Search',
      fields: [
        { var: 'FORM_TYPE', type: 'hidden', values: ['urn:x'] },
        { var: 'ids', type: 'list-multi', values: [], extra: [parseXml("<validate xmlns='urn:v'><open/></validate>")] },
      ],
    });
    assert.equal(el.attrs.xmlns, NS_DATA_FORMS);
    assert.ok(el.getChildByAttr('var', 'ids')?.getChild('validate', 'urn:v')?.getChild('open'));
    const back = parseForm(parseXml(el.toString()));
    assert.equal(back.type, 'form');
    assert.equal(back.title, 'Search');
    assert.deepEqual(back.fields[0]?.values, ['urn:x']);
  });
});
