// Unit: the c2s outbound filter chain (server/session/client-stream.ts) and the XEP-0352 decisions
// (server/modules/xep-0352-csi/codec.ts).
import assert from 'node:assert/strict';
import { csiDecision } from '../../../server/modules/xep-0352-csi/codec.js';
import { OutboundChain, type OutboundFilter } from '../../../server/session/client-stream.js';
import { type Element, parseXml } from '../../../server/xml/element.js';

const el = (s: string) => parseXml(s);

describe('outbound filter chain', () => {
  it('with no filter, sends straight to the wire', () => {
    const out: string[] = [];
    const chain = new OutboundChain((e) => out.push(e.toString()));
    chain.send(el('<message/>'));
    assert.deepEqual(out, ['<message/>']);
  });

  it('runs filters by order, whatever the order they were added in', () => {
    const seen: string[] = [];
    const out: string[] = [];
    const tagger = (name: string, order: number): OutboundFilter => ({
      order,
      filter(e, next) {
        seen.push(name);
        next(e);
      },
    });
    const chain = new OutboundChain((e) => out.push(e.name));
    const late = tagger('wire', 1000);
    chain.add(late);
    chain.add(tagger('first', 100));
    chain.send(el('<iq/>'));
    assert.deepEqual(seen, ['first', 'wire']);
    chain.remove(late);
    chain.send(el('<iq/>'));
    assert.deepEqual(seen, ['first', 'wire', 'first']);
    assert.deepEqual(out, ['iq', 'iq']);
  });

  it('forwards held elements through the filters added after them since', () => {
    const held: Element[] = [];
    const holder: OutboundFilter = { order: 100, filter: (e) => held.push(e) };
    const counted: string[] = [];
    const counter: OutboundFilter = {
      order: 1000,
      filter(e, next) {
        counted.push(e.name);
        next(e);
      },
    };
    const out: string[] = [];
    const chain = new OutboundChain((e) => out.push(e.name));
    chain.add(holder);
    chain.send(el('<presence/>'));
    chain.add(counter);
    for (const e of held.splice(0)) chain.forward(holder, e);
    assert.deepEqual(counted, ['presence']);
    assert.deepEqual(out, ['presence']);
  });
});

describe('XEP-0352 decisions (§3.2)', () => {
  it('holds availability presence', () => {
    assert.equal(csiDecision(el("<presence from='a@x/r'/>")), 'hold');
    assert.equal(csiDecision(el("<presence from='a@x/r' type='unavailable'/>")), 'hold');
  });
  it('lets other presence, and messages with content, flush what is held first', () => {
    assert.equal(csiDecision(el("<presence type='subscribe'/>")), 'flush');
    assert.equal(csiDecision(el("<presence type='error'/>")), 'flush');
    assert.equal(csiDecision(el('<message><body>hi</body></message>')), 'flush');
  });
  it('passes iqs and chat-state-only messages without flushing', () => {
    assert.equal(csiDecision(el("<iq type='result'/>")), 'pass');
    const state = "<composing xmlns='http://jabber.org/protocol/chatstates'/>";
    assert.equal(csiDecision(el(`<message type='chat'>${state}</message>`)), 'pass');
  });
});
