// Interop: the IRC gateway driver (gateways/irc) against a real ngircd 26, driven by a real XMPP client
// (@xmpp/client) on one side and raw IRC users (node:net) on the other (the driver conformance suite runs in
// irc-conformance.spec.ts). ngircd missing → skipped with a message, or a failure with REQUIRE_PEERS=1.
import assert from 'node:assert/strict';
import { type ClientSession, type Element, fresh, login, rosterGet, stopAll, xml } from '../helpers/im-clients.js';
import {
  bodies,
  collect,
  gatewayOffline,
  gatewayOnline,
  gatewayYaml,
  isMessageFrom,
  isOccupant,
  mucItem,
  NS_MUC,
  privmsgTo,
  registerWithGateway,
  statusCodes,
} from '../helpers/irc-gateway.js';
import { opensslAvailable, TestCa } from '../helpers/peers/ca.js';
import { IrcClient, type NgircdPeer, ngircdMissing, startNgircd } from '../helpers/peers/ngircd.js';
import { uniqueNick } from '../helpers/peers/ngircd-legacy-peer.js';
import { skipUnlessInstalled } from '../helpers/peers/peer.js';
import { sleep } from '../helpers/peers/system.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const GW = 'irc.localhost';
const NET = 'irc.test'; // over TLS
const LOCKED = 'locked.test'; // a second ngircd with a connection password, plain TCP
const WRONG = 'wrong.test'; // the TLS ngircd, verified against a name its certificate does not carry
const contact = (nick: string, server = NET) => `${nick.toLowerCase()}%${server}@${GW}`;
const roomJid = (chan: string) => `${chan.toLowerCase()}%${NET}@${GW}`;

describe('interop: IRC gateway with ngircd and @xmpp/client', function () {
  this.timeout(90_000);
  let ca: TestCa | undefined;
  let ircd: NgircdPeer | undefined;
  let locked: NgircdPeer | undefined;
  let srv: TestServer | undefined;
  const clients: ClientSession[] = [];
  const ircUsers: IrcClient[] = [];

  before(async function () {
    skipUnlessInstalled(this, ngircdMissing() ?? (opensslAvailable() ? undefined : 'the openssl CLI is not installed'));
    ca = TestCa.create();
    const cert = ca.issue('localhost');
    ircd = await startNgircd(NET, { maxNickLength: 30, noPenalty: true, tls: cert });
    locked = await startNgircd(LOCKED, { maxNickLength: 30, password: 'letmein' });
    const caFile = ca.certFile;
    srv = await startTestServer({
      yaml: gatewayYaml(GW, {
        defaultServer: NET,
        servers: {
          // By address, verified by name: no dependency on how `localhost` resolves (other specs edit /etc/hosts).
          [NET]: { host: '127.0.0.1', tls_name: 'localhost', port: ircd.tlsPort, tls: true, ca_file: caFile },
          [LOCKED]: { host: '127.0.0.1', port: locked.port, tls: false },
          [WRONG]: { host: '127.0.0.1', tls_name: 'elsewhere.example', port: ircd.tlsPort, ca_file: caFile },
        },
      }),
    });
  });
  after(async () => {
    await stopAll(clients);
    await Promise.all(ircUsers.map((u) => u.quit()));
    await srv?.stop();
    await ircd?.cleanup();
    await locked?.cleanup();
    ca?.cleanup();
  });

  async function xmppUser(prefix: string): Promise<ClientSession> {
    const s = srv as TestServer;
    const name = fresh(prefix);
    await s.addUser(name, `${name}-secret`);
    const c = await login(s, name);
    clients.push(c);
    await rosterGet(c);
    await c.send(xml('presence'));
    return c;
  }

  /** A local user registered with the gateway on `server` and logged in to IRC. */
  async function ircAccount(prefix: string, server = NET, password?: string) {
    const c = await xmppUser(prefix);
    const nick = uniqueNick(prefix);
    await registerWithGateway(c, GW, { nick, server, ...(password ? { password } : {}) });
    await c.waitFor(gatewayOnline(GW), 15_000);
    return { c, nick };
  }

  async function ircUser(prefix: string, server: NgircdPeer = ircd as NgircdPeer, password?: string) {
    const u = await IrcClient.connect(server.port, uniqueNick(prefix), password ? { password } : {});
    ircUsers.push(u);
    return u;
  }

  /** Polls WHOIS (RFC 2812 §3.6.2) until its reply shows `nick` away (RPL_AWAY, 301). */
  async function untilAway(watcher: IrcClient, nick: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const from = watcher.lines.length;
      watcher.send(`WHOIS ${nick}`);
      await watcher.waitLine((l) => l.command === '318', 'RPL_ENDOFWHOIS', 10_000, from);
      if (watcher.lines.slice(from).some((l) => l.command === '301' && l.params[1] === nick)) return;
      if (Date.now() > deadline) throw new Error(`WHOIS does not show ${nick} away after 10 s`);
      await sleep(100);
    }
  }

  it('registers through XEP-0077 with a real client and logs in to IRC over TLS', async () => {
    const c = await xmppUser('reg');
    const form = await c.request(xml('iq', { type: 'get', to: GW }, xml('query', { xmlns: 'jabber:iq:register' })));
    const fields = form.getChild('query')?.getChild('x', 'jabber:x:data')?.getChildren('field') ?? [];
    const byVar = new Map(fields.map((f) => [f.attrs.var, f]));
    assert.equal(byVar.get('password')?.attrs.type, 'text-private');
    assert.ok(byVar.get('nick')?.getChild('required'));
    assert.deepEqual(
      byVar
        .get('server')
        ?.getChildren('option')
        .map((o) => o.getChildText('value')),
      [NET, LOCKED, WRONG],
    );
    const nick = uniqueNick('reg');
    await registerWithGateway(c, GW, { nick, server: NET });
    await c.waitFor(gatewayOnline(GW), 15_000);
    const watcher = await ircUser('who');
    watcher.send(`WHOIS ${nick}`);
    const whois = await watcher.waitLine((l) => l.command === '311' && l.params[1] === nick, 'RPL_WHOISUSER');
    assert.equal(whois.params[2], '~xmpp');
    // ngircd answers "is connected via SSL (secure link)" with numeric 275 (others use 671 RPL_WHOISSECURE).
    await watcher.waitLine((l) => (l.command === '275' || l.command === '671') && l.params[1] === nick, 'TLS');
  });

  it('verifies the IRC server certificate: a name mismatch keeps the user offline', async () => {
    const c = await xmppUser('tls');
    await registerWithGateway(c, GW, { nick: uniqueNick('tls'), server: WRONG });
    const off = await c.waitFor(gatewayOffline(GW), 15_000);
    assert.match(off.getChildText('status') ?? '', /altnames|certificate|elsewhere/i);
  });

  it('carries private messages both ways: chat, /me ⇄ CTCP ACTION, NOTICE → normal, formatting stripped', async () => {
    const { c, nick } = await ircAccount('pm');
    const bob = await ircUser('bob');
    await c.send(xml('message', { to: contact(bob.nick), type: 'chat' }, xml('body', {}, 'hello bob\nsecond line')));
    await bob.waitLine(privmsgTo(bob.nick, 'hello bob'), 'first line');
    await bob.waitLine(privmsgTo(bob.nick, 'second line'), 'second line');
    await c.send(xml('message', { to: contact(bob.nick), type: 'chat' }, xml('body', {}, '/me waves')));
    await bob.waitLine(privmsgTo(bob.nick, '\x01ACTION waves\x01'), 'the action');

    bob.privmsg(nick, '\x02hi\x02 \x0304there\x03');
    const chat = await c.waitFor(isMessageFrom(contact(bob.nick)), 10_000);
    assert.equal(chat.attrs.type, 'chat');
    assert.equal(chat.getChildText('body'), 'hi there');
    bob.privmsg(nick, '\x01ACTION nods\x01');
    await c.waitFor(isMessageFrom(contact(bob.nick), '/me nods'), 10_000);
    bob.send(`NOTICE ${nick} :just so you know`);
    const notice = await c.waitFor(isMessageFrom(contact(bob.nick), 'just so you know'), 10_000);
    assert.equal(notice.attrs.type, 'normal');
    // CTCP requests are answered, not shown (CTCP VERSION).
    bob.privmsg(nick, '\x01VERSION\x01');
    const reply = await bob.waitLine((l) => l.command === 'NOTICE' && l.nick === nick, 'the CTCP reply');
    assert.ok((reply.params[1] ?? '').startsWith('\x01VERSION Switchboard'), reply.raw);
  });

  it('maps a channel to an XEP-0045 room: entry, occupants, groupchat both ways, subject, nick change, exit', async () => {
    const { c, nick } = await ircAccount('muc');
    // Mixed case: the room JID is case-folded (RFC 7622), IRC compares case-insensitively (RFC 2812 §2.2).
    const chan = `#Room${uniqueNick('')}`;
    const room = roomJid(chan);
    const op = await ircUser('op');
    await op.join(chan);
    op.send(`TOPIC ${chan} :the topic`);
    await op.waitLine((l) => l.command === 'TOPIC', 'the topic echo');

    // XEP-0045 §6.4: the room JID answers disco#info as a room before entry.
    const info = await c.request(
      xml('iq', { type: 'get', to: room }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })),
    );
    assert.equal(info.getChild('query')?.getChild('identity')?.attrs.category, 'conference');
    assert.ok(
      info
        .getChild('query')
        ?.getChildren('feature')
        .some((f) => f.attrs.var === NS_MUC),
    );
    await c.send(xml('presence', { to: `${room}/${nick}` }, xml('x', { xmlns: NS_MUC })));
    const opPresence = await c.waitFor(isOccupant(room, op.nick), 10_000);
    assert.deepEqual(mucItem(opPresence), { affiliation: 'admin', role: 'moderator' }); // '@' chanop
    const self = await c.waitFor(isOccupant(room, nick), 10_000);
    assert.deepEqual(statusCodes(self), [110]);
    assert.deepEqual(mucItem(self), { affiliation: 'none', role: 'participant' });
    const subject = await c.waitFor((el) => el.is('message') && el.getChild('subject') !== undefined, 10_000);
    assert.equal(subject.getChildText('subject'), 'the topic');
    assert.equal(subject.getChild('body'), undefined);

    // Someone joins: XEP-0045 §7.2 occupant presence with affiliation none, role participant.
    const carol = await ircUser('carol');
    await carol.join(chan);
    const joined = await c.waitFor(isOccupant(room, carol.nick), 10_000);
    assert.deepEqual(mucItem(joined), { affiliation: 'none', role: 'participant' });

    // Groupchat both ways; the user's own message is reflected with its id (XEP-0045 §7.4).
    await c.send(xml('message', { to: room, type: 'groupchat', id: 'g1' }, xml('body', {}, 'hello room')));
    const sameChan = (name?: string) => name?.toLowerCase() === chan.toLowerCase();
    await op.waitLine((l) => l.command === 'PRIVMSG' && sameChan(l.params[0]) && l.params[1] === 'hello room', 'it');
    const echo = await c.waitFor((el) => el.is('message') && el.attrs.id === 'g1', 10_000);
    assert.equal(echo.attrs.from, `${room}/${nick}`);
    assert.equal(echo.attrs.type, 'groupchat');
    op.privmsg(chan, 'hi from IRC');
    const gc = await c.waitFor(isMessageFrom(`${room}/${op.nick}`, 'hi from IRC'), 10_000);
    assert.equal(gc.attrs.type, 'groupchat');
    op.send(`TOPIC ${chan} :new topic`);
    const change = await c.waitFor((el) => el.is('message') && el.getChildText('subject') === 'new topic', 10_000);
    assert.equal(change.attrs.from, `${room}/${op.nick}`);

    // Nick change: XEP-0045 §7.6 unavailable with 303 and the new nick, then available.
    const newNick = uniqueNick('carl');
    carol.send(`NICK ${newNick}`);
    const gone = await c.waitFor(isOccupant(room, carol.nick, 'unavailable'), 10_000);
    assert.deepEqual(statusCodes(gone), [303]);
    assert.equal(mucItem(gone).nick, newNick);
    await c.waitFor(isOccupant(room, newNick), 10_000);
    carol.send(`PART ${chan} :bye all`);
    const parted = await c.waitFor(isOccupant(room, newNick, 'unavailable'), 10_000);
    assert.equal(parted.getChildText('status'), 'bye all');

    // A private message to an occupant goes to that nick (XEP-0045 §7.5), not to the channel.
    await c.send(xml('message', { to: `${room}/${op.nick}`, type: 'chat' }, xml('body', {}, 'psst')));
    await op.waitLine(privmsgTo(op.nick, 'psst'), 'the private message');

    // Exit: the user's own unavailable presence with 110, and PART on IRC.
    const from = op.lines.length;
    await c.send(xml('presence', { to: `${room}/${nick}`, type: 'unavailable' }));
    const left = await c.waitFor(isOccupant(room, nick, 'unavailable'), 10_000);
    assert.deepEqual(statusCodes(left), [110]);
    await op.waitLine((l) => l.command === 'PART' && l.nick === nick, 'the PART', 10_000, from);
  });

  it('refuses entry to a channel the server refuses (a presence error with the muc <x/>)', async () => {
    const { c, nick } = await ircAccount('ban');
    const op = await ircUser('bop');
    const chan = `#b${uniqueNick('')}`;
    await op.join(chan);
    op.send(`MODE ${chan} +k sesame`);
    await op.waitLine((l) => l.command === 'MODE', 'the key');
    await c.send(xml('presence', { to: `${roomJid(chan)}/${nick}` }, xml('x', { xmlns: NS_MUC })));
    const err = await c.waitFor((el) => el.is('presence') && el.attrs.type === 'error', 10_000);
    assert.ok(err.getChild('error')?.getChild('not-authorized'), err.toString()); // ERR_BADCHANNELKEY
    assert.ok(err.getChild('x', NS_MUC));
    await c.send(
      xml('presence', { to: `${roomJid(chan)}/${nick}` }, xml('x', { xmlns: NS_MUC }, xml('password', {}, 'sesame'))),
    );
    const self = await c.waitFor(isOccupant(roomJid(chan), nick), 10_000);
    assert.deepEqual(statusCodes(self), [110]);
  });

  it('maps AWAY both ways: XMPP away → IRC AWAY, a watched IRC nick → presence away with its text', async () => {
    const { c, nick } = await ircAccount('away');
    const dave = await ircUser('dave');
    await c.send(xml('presence', {}, xml('show', {}, 'away'), xml('status', {}, 'at lunch')));
    // The AWAY reaches ngircd asynchronously: wait until WHOIS shows it rather than for a fixed time.
    await untilAway(dave, nick);
    const from = dave.lines.length;
    dave.privmsg(nick, 'are you there?');
    const away = await dave.waitLine((l) => l.command === '301' && l.params[1] === nick, 'RPL_AWAY', 10_000, from);
    assert.equal(away.params[2], 'at lunch');

    await c.send(xml('presence', { to: contact(dave.nick), type: 'subscribe' }));
    await c.waitFor(
      (el) => el.is('presence') && el.attrs.from === contact(dave.nick) && el.attrs.type === 'subscribed',
      10_000,
    );
    await c.waitFor((el) => el.is('presence') && el.attrs.from === contact(dave.nick) && !el.attrs.type, 10_000);
    dave.send('AWAY :brb');
    const daveAway = await c.waitFor(
      (el) => el.is('presence') && el.attrs.from === contact(dave.nick) && el.getChildText('show') === 'away',
      10_000,
    );
    assert.equal(daveAway.getChildText('status'), 'brb');
    await dave.quit('gone');
    // Noticed by the next USERHOST poll (presence_poll_seconds: 1).
    await c.waitFor(
      (el) => el.is('presence') && el.attrs.from === contact(dave.nick) && el.attrs.type === 'unavailable',
      10_000,
    );
  });

  it('sends the password as PASS to a server without SASL, and fails for good with a wrong one', async () => {
    const ok = await ircAccount('pass', LOCKED, 'letmein');
    const bob = await ircUser('lbob', locked, 'letmein');
    bob.privmsg(ok.nick, 'locked in');
    await ok.c.waitFor(isMessageFrom(contact(bob.nick, LOCKED), 'locked in'), 10_000);

    const c = await xmppUser('badpass');
    await registerWithGateway(c, GW, { nick: uniqueNick('bad'), server: LOCKED, password: 'wrong' });
    const failed = await c.waitFor(gatewayOffline(GW), 15_000);
    assert.match(failed.getChildText('status') ?? '', /password|closed the link/i);
    // Permanent (LegacyError.permanent): no reconnect attempt follows, so no "connecting" presence.
    c.inbox.length = 0;
    await sleep(1500);
    assert.ok(!c.inbox.some((el) => el.is('presence') && el.attrs.from === GW && el.getChild('show')));
  });

  it('keeps 500 messages in order in both directions (paced to respect ngircd flood limits)', async () => {
    const { c, nick } = await ircAccount('burst');
    const eve = await ircUser('eve');
    for (let i = 0; i < 500; i++) {
      await c.send(xml('message', { to: contact(eve.nick), type: 'chat' }, xml('body', {}, `out ${i}`)));
    }
    await eve.waitLine(privmsgTo(eve.nick, 'out 499'), 'the last message', 60_000);
    const out = eve.lines.filter(privmsgTo(eve.nick)).map((l) => l.params[1]);
    assert.deepEqual(
      out,
      Array.from({ length: 500 }, (_, i) => `out ${i}`),
    );

    // ngircd with MaxPenaltyTime = 0 takes a burst; the raw client still writes in slices.
    for (let i = 0; i < 500; i += 50) {
      eve.sendRaw(Array.from({ length: 50 }, (_, j) => `PRIVMSG ${nick} :in ${i + j}\r\n`).join(''));
      await sleep(20);
    }
    const got = await collect(c, isMessageFrom(contact(eve.nick)), 500, 60_000);
    assert.deepEqual(
      got.map((el) => el.getChildText('body')),
      Array.from({ length: 500 }, (_, i) => `in ${i}`),
    );
  });

  it('survives bad input from IRC: invalid UTF-8, control characters, 10 KB lines, a flood of lines', async () => {
    const { c, nick } = await ircAccount('bad');
    const mal = await ircUser('mal');
    const from = contact(mal.nick);
    mal.sendRaw(Buffer.concat([Buffer.from(`PRIVMSG ${nick} :caf`), Buffer.from([0xe9]), Buffer.from(' latin1\r\n')]));
    await c.waitFor(isMessageFrom(from, 'café latin1'), 10_000);
    mal.sendRaw(Buffer.concat([Buffer.from(`PRIVMSG ${nick} :half `), Buffer.from([0xf0, 0x9f]), Buffer.from('\r\n')]));
    await c.waitFor(isMessageFrom(from, 'half ð\u009f'), 10_000);
    mal.sendRaw(`PRIVMSG ${nick} :\x02b\x02 \x0304,01c\x03 bell\x07 esc\x1b[0m del\x7f \x16r\x1dI\x1fu\x0f end\r\n`);
    await c.waitFor(isMessageFrom(from, 'b c bell esc[0m del\x7f rIu end'), 10_000);

    // A flood of junk: unknown commands, empty and CTCP messages, notices; then one real message.
    const junk: string[] = [];
    for (let i = 0; i < 300; i++) {
      junk.push(
        `FOO${i} bar`,
        `PRIVMSG ${nick} :\x01PING ${i}\x01`,
        `PRIVMSG ${nick} :\x01\x01`,
        `NOTICE ${nick} :\x01X\x01`,
      );
    }
    mal.sendRaw(`${junk.join('\r\n')}\r\nPRIVMSG ${nick} :after the flood\r\n`);
    await c.waitFor(isMessageFrom(from, 'after the flood'), 20_000);
    assert.equal(bodies(c).filter((b) => b.includes('\x01') || b.includes('PING')).length, 0);
    const pongs = mal.lines.filter((l) => l.command === 'NOTICE' && l.nick === nick).length;
    assert.ok(pongs <= 3, `CTCP answers are rate-limited (${pongs})`);

    // A 10 KB line: ngircd 26 discards it (RFC 2812 §2.3 limit); whatever it relays, the gateway carries on.
    // (Over-long lines *from the server* are covered against a scripted server in spec/unit/gateways/irc-client.)
    const big = await ircUser('big');
    big.sendRaw(`PRIVMSG ${nick} :${'x'.repeat(10_240)}\r\n`);
    big.privmsg(nick, 'after the big line');
    mal.privmsg(nick, 'still here');
    await c.waitFor(isMessageFrom(from, 'still here'), 10_000);
    for (const b of bodies(c)) assert.ok(Buffer.byteLength(b) < 600, 'no over-long message reached XMPP');
    // XML 1.0 §2.2: no C0 control other than tab, LF and CR may reach the client.
    const c0 = (s: string) => [...s].some((ch) => ch < ' ' && ch !== '\t' && ch !== '\n' && ch !== '\r');
    for (const el of c.inbox) assert.ok(!c0(el.toString()), el.toString());
  });

  it('keeps users apart: two XMPP users, two IRC connections, nothing of one reaches the other', async () => {
    const a = await ircAccount('iso');
    const b = await ircAccount('iso');
    const frank = await ircUser('frank');
    frank.send(`ISON ${a.nick} ${b.nick}`);
    const ison = await frank.waitLine((l) => l.command === '303', 'RPL_ISON');
    assert.deepEqual((ison.params[1] ?? '').trim().split(' ').sort(), [a.nick, b.nick].sort());
    const chan = `#i${uniqueNick('')}`;
    await a.c.send(xml('presence', { to: `${roomJid(chan)}/${a.nick}` }, xml('x', { xmlns: NS_MUC })));
    await a.c.waitFor(isOccupant(roomJid(chan), a.nick), 10_000);
    await frank.join(chan);
    frank.privmsg(a.nick, 'for a only');
    frank.privmsg(chan, 'room of a');
    await a.c.waitFor(isMessageFrom(contact(frank.nick), 'for a only'), 10_000);
    await a.c.waitFor(isMessageFrom(`${roomJid(chan)}/${frank.nick}`, 'room of a'), 10_000);
    frank.privmsg(b.nick, 'for b only');
    await b.c.waitFor(isMessageFrom(contact(frank.nick), 'for b only'), 10_000);
    await sleep(300);
    const leaked = (cl: ClientSession, text: string) =>
      cl.inbox.some((el: Element) => el.toString().includes(text) || el.attrs.from?.startsWith(`${roomJid(chan)}`));
    assert.ok(!leaked(b.c, 'for a only') && !leaked(b.c, 'room of a'), bodies(b.c).join('\n'));
    assert.ok(!a.c.inbox.some((el) => el.toString().includes('for b only')));
  });

  it('shows an IRC server restart as the gateway presence and reconnects with backoff', async () => {
    const { c, nick } = await ircAccount('restart');
    const chan = `#s${uniqueNick('')}`;
    await c.send(xml('presence', { to: `${roomJid(chan)}/${nick}` }, xml('x', { xmlns: NS_MUC })));
    await c.waitFor(isOccupant(roomJid(chan), nick), 10_000);
    await (ircd as NgircdPeer).stop();
    const down = await c.waitFor(gatewayOffline(GW), 15_000);
    assert.ok(down.getChildText('status'), 'the reason is shown');
    // The room ends for the user: XEP-0045 §15.6 status 332 (the service went away) with 110.
    const ended = await c.waitFor(isOccupant(roomJid(chan), nick, 'unavailable'), 5000);
    assert.deepEqual(statusCodes(ended).sort(), [110, 332]);
    await sleep(1500); // a few failed attempts while the server is down
    await (ircd as NgircdPeer).start();
    await c.waitFor(gatewayOnline(GW), 20_000);
    const gina = await ircUser('gina');
    gina.privmsg(nick, 'welcome back');
    await c.waitFor(isMessageFrom(contact(gina.nick), 'welcome back'), 10_000);
  });
});
