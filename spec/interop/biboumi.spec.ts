// Interop with a real external component (DESIGN §6, §8 item 5): biboumi 9, the XMPP–IRC gateway, attaches to
// Switchboard over XEP-0114 and bridges to a private ngIRCd. An @xmpp/client user joins an IRC channel as a
// XEP-0045 room through it; a raw IRC client sits in the same channel. Messages go both ways, and each side sees
// the other's presence.
import assert from 'node:assert/strict';
import { NS } from '../../server/xml/ns.js';
import { type BiboumiPeer, biboumiMissing, startBiboumi } from '../helpers/peers/biboumi.js';
import { IrcClient, type NgircdPeer, ngircdMissing, startNgircd } from '../helpers/peers/ngircd.js';
import { peerDebug, skipUnlessInstalled } from '../helpers/peers/peer.js';
import { poll } from '../helpers/peers/system.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { type ClientSession, type Element, startClient, xml } from '../helpers/xmpp-client.js';

const GATEWAY = 'irc.localhost';
const SECRET = 'biboumi-interop-secret';
const IRC_SERVER = '127.0.0.1';
const CHANNEL = '#switchboard';
const ROOM = `${CHANNEL}%${IRC_SERVER}@${GATEWAY}`;
const MUC = 'http://jabber.org/protocol/muc';
const MUC_USER = 'http://jabber.org/protocol/muc#user';
const COMMANDS = 'http://jabber.org/protocol/commands';

describe('interop: biboumi 9 + ngIRCd through the XEP-0114 component port', function () {
  this.timeout(60_000);
  let ts: TestServer;
  let ngircd: NgircdPeer | undefined;
  let biboumi: BiboumiPeer | undefined;
  let alice: ClientSession | undefined;
  let bob: IrcClient | undefined;

  before(async function () {
    skipUnlessInstalled(this, ngircdMissing() ?? biboumiMissing());
    ts = await startTestServer({
      listeners: ['{ type: component, address: 127.0.0.1, port: 0 }'],
      yaml: `components:\n  ${GATEWAY}: { secret: ${SECRET}, name: IRC }`,
    });
    await ts.addUser('alice', 'alice-pw');
    ngircd = await startNgircd();
    biboumi = await startBiboumi({ domain: GATEWAY, secret: SECRET, port: ts.server.port('component') });
    alice = await startClient({
      port: ts.port,
      dataDir: ts.dataDir,
      username: 'alice',
      password: 'alice-pw',
      resource: 'desk',
    });
    await alice.send(xml('presence'));
  });

  after(async () => {
    // SB_PEER_LOG=debug shows what the peers logged (biboumi logs every XMPP and IRC line).
    if (peerDebug()) console.log(logs());
    await alice?.stop();
    await bob?.quit();
    await biboumi?.cleanup();
    await ngircd?.cleanup();
    await ts?.stop();
  });

  /** Peer logs for a failed assertion. */
  const logs = () => `\n--- biboumi ---\n${biboumi?.log() ?? ''}\n--- ngircd ---\n${ngircd?.log() ?? ''}`;
  const mucUser = (el: Element) => el.getChild('x', MUC_USER);
  const statusCodes = (el: Element) => (mucUser(el)?.getChildren('status') ?? []).map((s) => s.attrs.code);

  it('routes to the component: disco#info on the gateway answers with biboumi’s identity', async () => {
    const r = await alice!.request(xml('iq', { type: 'get', to: GATEWAY }, xml('query', { xmlns: NS.DISCO_INFO })));
    const ids = (r.getChild('query', NS.DISCO_INFO)?.getChildren('identity') ?? []).map(
      (i) => `${i.attrs.category}/${i.attrs.type}`,
    );
    assert.ok(ids.includes('conference/irc'), `identities: ${ids.join(', ')}${logs()}`);
    const items = await alice!.request(
      xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: NS.DISCO_ITEMS })),
    );
    const listed = (items.getChild('query', NS.DISCO_ITEMS)?.getChildren('item') ?? []).some(
      (i) => i.attrs.jid === GATEWAY,
    );
    assert.ok(listed, `localhost's disco#items lists ${GATEWAY}: ${items.toString()}`);
  });

  it('configures the IRC server’s plain port through biboumi’s XEP-0050 command', async () => {
    const to = `${IRC_SERVER}@${GATEWAY}`;
    const reply = await alice!.request(
      xml('iq', { type: 'set', to }, xml('command', { xmlns: COMMANDS, node: 'configure', action: 'execute' })),
    );
    const form = reply.getChild('command', COMMANDS);
    const sessionid = form?.attrs.sessionid;
    assert.ok(form && sessionid, `configure returned a session: ${reply.toString()}`);
    const fields =
      form
        .getChild('x', NS.DATA_FORMS)
        ?.getChildren('field')
        .map((f) => f.attrs.var) ?? [];
    assert.ok(fields.includes('ports') && fields.includes('tls_ports'), `form fields: ${fields.join(', ')}`);
    // No TLS ports: biboumi would otherwise try 6697 and 6670 first (PEERS.md).
    const done = await alice!.request(
      xml(
        'iq',
        { type: 'set', to },
        xml(
          'command',
          { xmlns: COMMANDS, node: 'configure', sessionid, action: 'complete' },
          xml(
            'x',
            { xmlns: NS.DATA_FORMS, type: 'submit' },
            xml('field', { var: 'ports' }, xml('value', {}, String(ngircd!.port))),
            xml('field', { var: 'tls_ports' }),
          ),
        ),
      ),
    );
    assert.equal(done.getChild('command', COMMANDS)?.attrs.status, 'completed', `${done.toString()}${logs()}`);
  });

  it('an IRC user and an XMPP user meet in the channel and see each other’s presence', async () => {
    bob = await IrcClient.connect(ngircd!.port, 'bob');
    await bob.join(CHANNEL);
    const joined = bob.lines.length;
    await alice!.send(xml('presence', { to: `${ROOM}/alice` }, xml('x', { xmlns: MUC })));
    // XEP-0045 §7.2.3: occupants' presence first, the user's own (status 110) last.
    const self = await alice!.waitFor(
      (el) => el.is('presence') && el.attrs.from === `${ROOM}/alice` && statusCodes(el).includes('110'),
      20_000,
    );
    assert.equal(self.attrs.type, undefined, `self-presence is available: ${self.toString()}${logs()}`);
    const bobPresence = await alice!.waitFor((el) => el.is('presence') && el.attrs.from === `${ROOM}/bob`, 5000);
    assert.equal(bobPresence.attrs.type, undefined);
    assert.ok(mucUser(bobPresence)?.getChild('item'), 'occupant presence carries a muc#user item');
    // The other way: biboumi's IRC connection for alice joins the channel in bob's view.
    const join = await bob.waitLine((l) => l.command === 'JOIN' && l.nick === 'alice', 'alice joining', 10_000, joined);
    assert.equal(join.params[0], CHANNEL);
  });

  it('carries a groupchat message from XMPP to IRC', async () => {
    const from = bob!.lines.length;
    await alice!.send(xml('message', { to: ROOM, type: 'groupchat' }, xml('body', {}, 'hello from XMPP')));
    const line = await bob!.waitLine(
      (l) => l.command === 'PRIVMSG' && l.nick === 'alice',
      'alice’s message on IRC',
      10_000,
      from,
    );
    assert.deepEqual(line.params, [CHANNEL, 'hello from XMPP']);
    // XEP-0045 §7.4: the room reflects the message to its sender too.
    const echo = await alice!.waitFor((el) => el.is('message') && el.attrs.from === `${ROOM}/alice`, 10_000);
    assert.equal(echo.getChildText('body'), 'hello from XMPP');
  });

  it('carries a channel message from IRC to XMPP as groupchat from the occupant', async () => {
    bob!.privmsg(CHANNEL, 'hello from IRC');
    const m = await alice!.waitFor(
      (el) => el.is('message') && el.attrs.from === `${ROOM}/bob` && el.getChildText('body') === 'hello from IRC',
      10_000,
    );
    assert.equal(m.attrs.type, 'groupchat');
    assert.equal(m.attrs.to, 'alice@localhost/desk');
  });

  it('shows the IRC user leaving as unavailable occupant presence', async () => {
    bob!.send(`PART ${CHANNEL} :done`);
    const p = await alice!.waitFor(
      (el) => el.is('presence') && el.attrs.from === `${ROOM}/bob` && el.attrs.type === 'unavailable',
      10_000,
    );
    assert.ok(mucUser(p), 'muc#user payload on the unavailable presence');
  });

  it('bounces stanzas for the gateway with service-unavailable once biboumi is gone', async () => {
    await biboumi!.stop();
    await poll(
      async () => {
        try {
          await alice!.request(xml('iq', { type: 'get', to: GATEWAY }, xml('query', { xmlns: NS.DISCO_INFO })), 3000);
          return false;
        } catch (err) {
          return (err as { condition?: string }).condition === 'service-unavailable';
        }
      },
      10_000,
      'the gateway to bounce with service-unavailable',
    );
  });
});
