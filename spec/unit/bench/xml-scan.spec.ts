// Unit: the load generator's minimal XML scanning (scripts/bench/xml-scan.ts). The benchmark itself is not part of
// npm test; these check only the pieces it is built from.
import assert from 'node:assert/strict';
import { attr, bareOf, childText, elementName, type ScanSink, StanzaScanner } from '../../../scripts/bench/xml-scan.js';

function collect(): { sink: ScanSink; events: string[] } {
  const events: string[] = [];
  return {
    events,
    sink: {
      header: (tag) => events.push(`header ${tag}`),
      stanza: (xml) => events.push(xml),
      end: () => events.push('end'),
    },
  };
}

const STREAM =
  "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='x' version='1.0'>" +
  "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>" +
  "<message from='a@b/c' to='d@e' type='chat'><body>1 &lt; 2 &amp;&amp; x &gt; y</body></message>" +
  "<presence from='a@b/c'/>" +
  '<iq type="result" id="q" title="a > b"><query xmlns="jabber:iq:roster"><!-- note --><item jid="x@y"/></query></iq>' +
  '<message><body><![CDATA[<not a tag>]]></body></message>' +
  '</stream:stream>';

const EXPECTED = [
  "header <stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='x' version='1.0'>",
  "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>",
  "<message from='a@b/c' to='d@e' type='chat'><body>1 &lt; 2 &amp;&amp; x &gt; y</body></message>",
  "<presence from='a@b/c'/>",
  '<iq type="result" id="q" title="a > b"><query xmlns="jabber:iq:roster"><!-- note --><item jid="x@y"/></query></iq>',
  '<message><body><![CDATA[<not a tag>]]></body></message>',
  'end',
];

describe('bench load generator: StanzaScanner', () => {
  it('splits a stream into its header, top-level elements and end', () => {
    const { sink, events } = collect();
    new StanzaScanner(sink).push(STREAM);
    assert.deepEqual(events, EXPECTED);
  });

  it('gives the same result however the input is cut into chunks', () => {
    for (const size of [1, 2, 3, 7, 64]) {
      const { sink, events } = collect();
      const scanner = new StanzaScanner(sink);
      for (let i = 0; i < STREAM.length; i += size) scanner.push(STREAM.slice(i, i + size));
      assert.deepEqual(events, EXPECTED, `chunks of ${size}`);
    }
  });

  it('starts inside a stream when told (the relay sends bare stanzas)', () => {
    const { sink, events } = collect();
    new StanzaScanner(sink, true).push("<ok/><message to='x'><body>hi</body></message>");
    assert.deepEqual(events, ['<ok/>', "<message to='x'><body>hi</body></message>"]);
  });

  it('drops what was buffered when the stream restarts, even from inside a callback', () => {
    const events: string[] = [];
    const scanner: StanzaScanner = new StanzaScanner({
      header: () => events.push('header'),
      stanza: (xml) => {
        events.push(xml);
        if (xml.startsWith('<success')) scanner.reset();
      },
      end: () => events.push('end'),
    });
    scanner.push("<stream:stream><success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/><junk/>");
    scanner.push('<stream:stream><stream:features/>');
    assert.deepEqual(events, [
      'header',
      "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
      'header',
      '<stream:features/>',
    ]);
  });
});

describe('bench load generator: attribute and text helpers', () => {
  const msg = `<message xml:lang='en' to="d@e/r" from='a@b/c' type='chat'><body>t12.5 hello</body><thread>x</thread></message>`;

  it('reads attributes of the start tag only, either quote style', () => {
    assert.equal(attr(msg, 'to'), 'd@e/r');
    assert.equal(attr(msg, 'from'), 'a@b/c');
    assert.equal(attr(msg, 'type'), 'chat');
    assert.equal(attr(msg, 'lang'), undefined, 'xml:lang is not lang');
    assert.equal(attr(msg, 'id'), undefined);
    assert.equal(attr("<a><b id='inner'/></a>", 'id'), undefined);
  });

  it('reads child text, the element name and bare JIDs', () => {
    assert.equal(childText(msg, 'body'), 't12.5 hello');
    assert.equal(childText(msg, 'thread'), 'x');
    assert.equal(childText(msg, 'subject'), undefined);
    assert.equal(childText("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>dj1h</success>", 'success'), 'dj1h');
    assert.equal(childText('<challenge/>', 'challenge'), '');
    assert.equal(elementName(msg), 'message');
    assert.equal(elementName('<stream:features>'), 'stream:features');
    assert.equal(bareOf('a@b/c/d'), 'a@b');
    assert.equal(bareOf('a@b'), 'a@b');
  });
});
