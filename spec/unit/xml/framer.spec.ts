import assert from 'node:assert/strict';
import type { StreamErrorCondition } from '../../../server/errors/index.js';
import type { Element, Node } from '../../../server/xml/element.js';
import { type FramerLimits, XmlFramer } from '../../../server/xml/framer.js';

type Event =
  | ['open', string, Record<string, string>]
  | ['stanza', string]
  | ['close']
  | ['error', StreamErrorCondition, string];

const LIMITS: FramerLimits = { maxStanzaBytes: 65536, maxDepth: 32, maxAttributes: 64 };
const HEADER =
  "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>";
const HEADER_ATTRS = {
  xmlns: 'jabber:client',
  'xmlns:stream': 'http://etherx.jabber.org/streams',
  to: 'example.com',
  version: '1.0',
};

/** Structure of an element, text nodes included, so that a split text node would show. */
function tree(n: Node): unknown {
  if (typeof n === 'string') return n;
  return { name: n.name, attrs: { ...n.attrs }, children: n.children.map(tree) };
}

function setup(limits: Partial<FramerLimits> = {}) {
  const events: Event[] = [];
  const stanzas: Element[] = [];
  const framer = new XmlFramer(
    { ...LIMITS, ...limits },
    {
      streamOpen: (name, attrs) => events.push(['open', name, attrs]),
      stanza: (el) => {
        stanzas.push(el);
        events.push(['stanza', el.toString()]);
      },
      streamClose: () => events.push(['close']),
      error: (condition, text) => events.push(['error', condition, text]),
    },
  );
  const feed = (...chunks: (string | Buffer | number[])[]) => {
    for (const c of chunks) framer.write(typeof c === 'string' ? Buffer.from(c) : Buffer.from(c));
    return events;
  };
  return { framer, events, stanzas, feed };
}

/** The error condition reported for `input` (fed after a stream header unless `raw`), or undefined. */
function errorFor(input: string | number[], opts: { raw?: boolean; limits?: Partial<FramerLimits> } = {}) {
  const { feed, events } = setup(opts.limits);
  if (!opts.raw) feed(HEADER);
  feed(input);
  const errors = events.filter((e) => e[0] === 'error');
  assert.ok(errors.length <= 1, 'error reported once');
  return errors[0]?.[1];
}

describe('XmlFramer', () => {
  it('reports the header, each stanza and the close', () => {
    const { feed, events, stanzas } = setup();
    feed(`${HEADER}<message to='a@b' type='chat'><body>hi</body></message><presence/></stream:stream>`);
    assert.deepEqual(events, [
      ['open', 'stream:stream', HEADER_ATTRS],
      ['stanza', '<message to="a@b" type="chat"><body>hi</body></message>'],
      ['stanza', '<presence/>'],
      ['close'],
    ]);
    assert.equal(stanzas[0]?.getChildText('body'), 'hi');
    assert.equal(stanzas[0]?.parent, null);
  });

  it('keeps names and xmlns as written and adds no attributes', () => {
    const { feed, stanzas } = setup();
    feed(HEADER, "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>");
    const el = stanzas[0]!;
    assert.equal(el.name, 'stream:features');
    assert.deepEqual(el.attrs, {});
    assert.deepEqual(tree(el.children[0]!), {
      name: 'bind',
      attrs: { xmlns: 'urn:ietf:params:xml:ns:xmpp-bind' },
      children: [],
    });
  });

  it('accepts an XML declaration before the header, and nowhere else', () => {
    for (const decl of [
      "<?xml version='1.0'?>",
      '<?xml version="1.0" encoding="UTF-8"?>',
      "<?xml version='1.0' encoding='utf-8' standalone='yes' ?>",
    ]) {
      const { feed, events } = setup();
      feed(decl + HEADER);
      assert.deepEqual(events, [['open', 'stream:stream', HEADER_ATTRS]], decl);
    }
    assert.equal(
      errorFor(`<?xml version='1.0' encoding='ISO-8859-1'?>${HEADER}`, { raw: true }),
      'unsupported-encoding',
    );
    assert.equal(errorFor(`<?xml version='2.0'?>${HEADER}`, { raw: true }), 'not-well-formed');
    assert.equal(errorFor(`\n<?xml version='1.0'?>${HEADER}`, { raw: true }), 'restricted-xml');
    assert.equal(errorFor(`<?xml version='1.0'?><?xml version='1.0'?>${HEADER}`, { raw: true }), 'restricted-xml');
    assert.equal(errorFor("<?xml version='1.0'?>"), 'restricted-xml');
  });

  it('gives the same result whatever the chunk boundaries, multibyte UTF-8 included', () => {
    const input = Buffer.from(
      `<?xml version='1.0'?>${HEADER}<message to='é@漢.example' id='😀&amp;x'>` +
        '<body>café 漢字 😀 &lt;&#x1F600;&#233;\r\nend</body><漢 a="é"/><x><![CDATA[<raw> 😀 ]]]]></x></message>' +
        "\n <iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq></stream:stream>",
    );
    const run = (chunks: Buffer[]) => {
      const { framer, events, stanzas } = setup();
      for (const c of chunks) framer.write(c);
      return { events, trees: stanzas.map(tree) };
    };
    const whole = run([input]);
    assert.equal(whole.events.length, 4);
    assert.equal(whole.events.at(-1)?.[0], 'close');
    assert.equal(whole.events[1]?.[0], 'stanza');
    for (let i = 1; i < input.length; i++) {
      assert.deepEqual(run([input.subarray(0, i), input.subarray(i)]), whole, `split at byte ${i}`);
    }
    const bytes = [...input].map((b) => Buffer.from([b]));
    assert.deepEqual(run(bytes), whole, 'one byte at a time');
    const msg = whole.trees[0] as { children: { children: string[] }[] };
    assert.deepEqual(msg.children[0]?.children, ['café 漢字 😀 <😀é\nend']);
    assert.deepEqual(msg.children[2]?.children, ['<raw> 😀 ]]']);
  });

  it('refuses invalid UTF-8 with unsupported-encoding', () => {
    assert.equal(errorFor([0xc3, 0x28]), 'unsupported-encoding');
    assert.equal(errorFor([0xff]), 'unsupported-encoding');
    assert.equal(errorFor([0xc0, 0xaf]), 'unsupported-encoding', 'overlong /');
    assert.equal(errorFor([0xe0, 0x80, 0xaf]), 'unsupported-encoding', 'overlong 3-byte');
    assert.equal(errorFor([0xed, 0xa0, 0x80]), 'unsupported-encoding', 'UTF-8 encoded surrogate');
    const { feed, events } = setup();
    feed(HEADER, '<message><body>', [0xc3], [0x28]);
    assert.deepEqual(events.at(-1)?.slice(0, 2), ['error', 'unsupported-encoding']);
  });

  it('refuses XML that is not well-formed', () => {
    const cases: [string, string][] = [
      ['mismatched end tag', '<message><body></message></body>'],
      ['end tag longer than the open one', '<a></ab>'],
      ['attribute without value', '<message to></message>'],
      ['unquoted attribute value', '<message to=a@b/>'],
      ['attributes not separated', "<message a='1'b='2'/>"],
      ['duplicate attribute', "<message id='1' id='2'/>"],
      ['< in attribute value', "<message id='<'/>"],
      ['text between stanzas', 'hello'],
      ['space after the slash', '<presence/ >'],
      ['invalid element name', '<1presence/>'],
      ['two colons in a name', '<a:b:c/>'],
      ['empty prefix', '<:a/>'],
      ["']]>' in text", '<a>x]]>y</a>'],
      ['reference to U+0000', '<a>&#0;</a>'],
      ['reference to a surrogate', '<a>&#xD800;</a>'],
      ['reference to U+FFFE', "<a b='&#xFFFE;'/>"],
      ['raw control character', '<a>\u0001</a>'],
      ['raw U+FFFF', '<a>\uffff</a>'],
      ['bare ampersand', '<a>fish & chips</a>'],
      ['uppercase X in a char ref', '<a>&#X41;</a>'],
      ['CDATA between stanzas', '<![CDATA[x]]>'],
      ['bad CDATA opener', '<a><![CDATX[x]]></a>'],
      ['wrong stream close', '</stream>'],
      ['end tag at depth 0', '</message>'],
    ];
    for (const [what, input] of cases) assert.equal(errorFor(input), 'not-well-formed', what);
    assert.equal(errorFor("<message to='x'/>", { raw: true }), 'not-well-formed', 'stanza before the header');
    assert.equal(errorFor('</stream:stream>', { raw: true }), 'not-well-formed', 'end tag before the header');
    assert.equal(errorFor(`x${HEADER}`, { raw: true }), 'not-well-formed', 'text before the header');
  });

  it('refuses DTDs, entities, comments and processing instructions with restricted-xml', () => {
    assert.equal(errorFor(`<!DOCTYPE stream>${HEADER}`, { raw: true }), 'restricted-xml');
    assert.equal(errorFor(`<!-- hi -->${HEADER}`, { raw: true }), 'restricted-xml');
    assert.equal(errorFor(`<?foo bar?>${HEADER}`, { raw: true }), 'restricted-xml');
    assert.equal(errorFor('<!ENTITY x "y">'), 'restricted-xml');
    assert.equal(errorFor('<message><!-- c --></message>'), 'restricted-xml');
    assert.equal(errorFor('<message><?pi x?></message>'), 'restricted-xml');
    assert.equal(errorFor('<message>&foo;</message>'), 'restricted-xml');
    assert.equal(errorFor("<message a='&nbsp;'/>"), 'restricted-xml');
  });

  it('decodes predefined entities, character references and whitespace as XML 1.0 says', () => {
    const { feed, stanzas } = setup();
    feed(
      HEADER,
      "<m a='&lt;&gt;&amp;&quot;&apos;&#65;&#x42;' b='x&#10;y\tz\r\nw'>&lt;&#x1F600;&#233;&amp;lt;\r\r\n</m>",
    );
    const el = stanzas[0]!;
    assert.equal(el.attrs.a, '<>&"\'AB');
    assert.equal(el.attrs.b, 'x\ny z w');
    assert.deepEqual(el.children, ['<😀é&lt;\n\n']);
  });

  it('turns CDATA sections into text, merged with the text around them', () => {
    const { feed, stanzas } = setup();
    feed(HEADER, '<body>a<![CDATA[<b>&amp;</b>]]>z<![CDATA[]]></body>');
    assert.deepEqual(stanzas[0]?.children, ['a<b>&amp;</b>z']);
  });

  it('stores an attribute named __proto__ as an ordinary attribute', () => {
    const { feed, stanzas } = setup();
    feed(HEADER, "<m __proto__='x'/>");
    assert.equal(Object.getPrototypeOf(stanzas[0]?.attrs), Object.prototype);
    assert.equal(Object.getOwnPropertyDescriptor(stanzas[0]?.attrs, '__proto__')?.value, 'x');
  });

  it('ignores whitespace keepalives between stanzas and does not count them', () => {
    const { feed, events } = setup({ maxStanzaBytes: 20 });
    feed(HEADER, ' ', '\n', '<presence/>', ' \r\n\t ', ' '.repeat(100), '<presence/>', ' ');
    assert.deepEqual(events.slice(1), [
      ['stanza', '<presence/>'],
      ['stanza', '<presence/>'],
    ]);
  });

  it('refuses an oversized stanza before it is complete', () => {
    const { feed, events } = setup({ maxStanzaBytes: 1000 });
    feed(HEADER, '<message><body>');
    for (let i = 0; i < 10 && events.length < 2; i++) feed('x'.repeat(300));
    assert.deepEqual(events[1], ['error', 'policy-violation', 'stanza too large']);
    feed('</body></message>');
    assert.equal(events.length, 2, 'nothing after the error');
  });

  it('counts stanza size in bytes, not characters', () => {
    const stanza = (n: number) => `<m>${'漢'.repeat(n)}</m>`; // 7 + 3n bytes
    assert.equal(errorFor(stanza(31), { limits: { maxStanzaBytes: 100 } }), undefined);
    assert.equal(errorFor(stanza(32), { limits: { maxStanzaBytes: 100 } }), 'policy-violation');
    const { feed, events } = setup({ maxStanzaBytes: 100 });
    feed(HEADER, '<m>');
    for (let i = 0; i < 60; i++) feed('é'); // 2 bytes each
    assert.deepEqual(events.at(-1), ['error', 'policy-violation', 'stanza too large']);
  });

  it('refuses a start tag that grows without end, even fed a byte at a time', () => {
    const { feed, events } = setup({ maxStanzaBytes: 2000 });
    feed(HEADER, "<message a='");
    for (let i = 0; i < 3000 && events.length < 2; i++) feed('>');
    assert.deepEqual(events[1], ['error', 'policy-violation', 'stanza too large']);
  });

  it('parses a tag fed a byte at a time, with > and quotes inside values', () => {
    const { feed, stanzas } = setup();
    feed(HEADER);
    for (const ch of `<m a='>"' b="'>" c = 'x'><x/></m>`) feed(ch);
    assert.deepEqual(stanzas[0]?.attrs, { a: '>"', b: "'>", c: 'x' });
  });

  it('limits the stream header size', () => {
    const big = `<stream:stream xmlns='jabber:client' pad='${'x'.repeat(200)}'>`;
    assert.equal(errorFor(big, { raw: true, limits: { maxHeaderBytes: 100 } }), 'policy-violation');
    assert.equal(errorFor(big, { raw: true, limits: { maxHeaderBytes: 300 } }), undefined);
    const { feed, events } = setup({ maxHeaderBytes: 100 });
    feed("<stream:stream a='");
    for (let i = 0; i < 20 && events.length === 0; i++) feed('x'.repeat(10));
    assert.deepEqual(events, [['error', 'policy-violation', 'stream header too large']]);
  });

  it('enforces the depth and attribute limits', () => {
    const limits = { maxDepth: 3, maxAttributes: 4 }; // the header has 4
    assert.equal(errorFor('<a><b><c/></b></a>', { limits }), undefined);
    assert.equal(errorFor('<a><b><c><d/></c></b></a>', { limits }), 'policy-violation');
    assert.equal(errorFor("<a w='0' x='1' y='2' z='3'/>", { limits }), undefined);
    assert.equal(errorFor("<a v='' w='0' x='1' y='2' z='3'/>", { limits }), 'policy-violation');
    assert.equal(errorFor("<a><b v='' w='0' x='1' y='2' z='3'/></a>", { limits }), 'policy-violation');
    assert.equal(errorFor("<stream:stream a='1' b='2' c='3' d='4' e='5'>", { raw: true, limits }), 'policy-violation');
  });

  it('accepts a new header after reset(), declaration included', () => {
    const { framer, feed, events } = setup();
    feed(HEADER, '<auth/>');
    framer.reset();
    feed(`<?xml version='1.0'?>${HEADER}<iq/>`);
    assert.deepEqual(
      events.map((e) => e[0]),
      ['open', 'stanza', 'open', 'stanza'],
    );
  });

  it('drops unread input when reset() is called from a handler', () => {
    const events: string[] = [];
    const framer: XmlFramer = new XmlFramer(LIMITS, {
      streamOpen: (name) => events.push(`open ${name}`),
      stanza: (el) => {
        events.push(el.name);
        if (el.name === 'auth') framer.reset();
      },
      streamClose: () => events.push('close'),
      error: (c) => events.push(`error ${c}`),
    });
    framer.write(Buffer.from(`${HEADER}<auth/><late/>`));
    framer.write(Buffer.from(`${HEADER}<iq/>`));
    assert.deepEqual(events, ['open stream:stream', 'auth', 'open stream:stream', 'iq']);
  });

  it('ignores input after an error or the close, until reset()', () => {
    const { framer, feed, events } = setup();
    feed(HEADER, '</stream:stream>', '<presence/>', 'junk');
    assert.deepEqual(
      events.map((e) => e[0]),
      ['open', 'close'],
    );
    framer.reset();
    feed('garbage', HEADER, '<presence/>');
    assert.deepEqual(
      events.map((e) => e[0]),
      ['open', 'close', 'error'],
    );
    framer.reset();
    feed(HEADER, '<presence/>');
    assert.deepEqual(
      events.map((e) => e[0]),
      ['open', 'close', 'error', 'open', 'stanza'],
    );
  });

  it('delivers 10,000 stanzas from one chunk in order', () => {
    const { feed, stanzas } = setup();
    let input = HEADER;
    for (let i = 0; i < 10000; i++) input += `<message id='m${i}' to='a@b'><body>n ${i}</body></message>`;
    feed(input);
    assert.equal(stanzas.length, 10000);
    stanzas.forEach((el, i) => {
      assert.equal(el.attrs.id, `m${i}`);
      assert.equal(el.getChildText('body'), `n ${i}`);
    });
  });

  it('micro-benchmark (set FRAMER_BENCH=1; asserts nothing about time)', function () {
    if (!process.env.FRAMER_BENCH) this.skip();
    const stanza =
      "<message to='juliet@example.com/balcony' id='x1' type='chat'><body>Wherefore art thou?</body></message>";
    const chunk = Buffer.from(stanza.repeat(500));
    let n = 0;
    const framer = new XmlFramer(LIMITS, {
      streamOpen: () => {},
      stanza: () => n++,
      streamClose: () => {},
      error: (c, t) => assert.fail(`${c}: ${t}`),
    });
    framer.write(Buffer.from(HEADER));
    const start = process.hrtime.bigint();
    for (let i = 0; i < 400; i++) framer.write(chunk);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    console.log(`      ${n} stanzas, ${((chunk.length * 400) / 1e6).toFixed(1)} MB in ${ms.toFixed(0)} ms`);
    assert.equal(n, 200000);
  });
});
