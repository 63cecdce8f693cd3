// Federation interop against a real peer server (issue 5; DESIGN §8 item 5), shared by federation-prosody.spec.ts
// and federation-ejabberd.spec.ts.
//
// A Switchboard serving SB on its own 127.0.0.x:5269 federates with a private Prosody or ejabberd serving PEER on
// another 127.0.0.x:5269. Switchboard reaches the peer through a static route (`s2s.routes`); the peer resolves SB
// through its own resolver (a private hosts file for Prosody, /etc/hosts for ejabberd). Two runs:
// - external: both certificates are issued by the test CA and both sides trust it and refuse anything else
//   (Switchboard `require_valid_certificates`, Prosody `s2s_secure_auth`, ejabberd without mod_s2s_dialback), so
//   streams can only authenticate with SASL EXTERNAL (RFC 6120 §6.4, XEP-0178);
// - dialback: Switchboard presents a self-signed certificate and trusts no test CA, so neither side can validate the
//   other and every stream authenticates with Server Dialback (XEP-0220).
import assert from 'node:assert/strict';
import type { Element } from 'ltx';
import { type IssuedCert, opensslAvailable, TestCa } from '../helpers/peers/ca.js';
import {
  type PeerAuthMode,
  type PeerOptions,
  peerClient,
  skipUnlessInstalled,
  type XmppPeer,
} from '../helpers/peers/peer.js';
import { allocateLoopback, hostsWritable, RUN_TAG, releaseLoopback, sleep } from '../helpers/peers/system.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { type ClientSession, startClient, xml } from '../helpers/xmpp-client.js';

export interface FederationPeerKind {
  /** Shown in test titles. */
  name: string;
  /** Why the peer cannot run here, or undefined. */
  missing(): string | undefined;
  /** Whether the peer resolves other servers only through /etc/hosts (then the tests must be able to edit it). */
  needsEtcHosts: boolean;
  start(opts: PeerOptions): Promise<XmppPeer>;
  /** What the peer's XEP-0092 software version name must match. */
  versionName: RegExp;
  /** Label in the test domains, e.g. 'prosody' → prosody.RUN.test and sb-prosody.RUN.test. */
  tag: string;
}

const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const NS_PING = 'urn:xmpp:ping';
const NS_VERSION = 'jabber:iq:version';
const NS_ROSTER = 'jabber:iq:roster';
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

/** Switchboard's federation timeouts in these tests (s2s.connect_timeout_seconds, negotiation_timeout_seconds). */
const CONNECT_TIMEOUT_S = 3;
const NEGOTIATION_TIMEOUT_S = 4;
/** How long a stanza may take to cross to the peer, including stream set-up and dialback. */
const CROSS_MS = 15_000;

const bare = (jid: string | undefined) => (jid ?? '').split('/')[0];
const bodyOf = (el: Element) => el.getChildText('body');

/** The defined condition of a stanza error (RFC 6120 §8.3.3), e.g. 'remote-server-not-found'. */
function errorCondition(el: Element): string | undefined {
  const err = el.getChild('error');
  return err?.children.find(
    (c): c is Element => typeof c !== 'string' && c.attrs.xmlns === NS_STANZAS && c.name !== 'text',
  )?.name;
}

export function federationSuite(kind: FederationPeerKind): void {
  // e.g. prosody.r1x2.test and sb-prosody.r1x2.test (unique per test process: see RUN_TAG).
  const SB = `sb-${kind.tag}.${RUN_TAG}.test`;
  const PEER = `${kind.tag}.${RUN_TAG}.test`;
  const ROMEO = { user: 'romeo', password: 'romeo-pw' };
  const JULIET = { user: 'juliet', password: 'juliet-pw' };
  const romeoJid = `${ROMEO.user}@${SB}`;
  const julietJid = `${JULIET.user}@${PEER}`;

  for (const mode of ['external', 'dialback'] as PeerAuthMode[]) {
    describe(`interop: federation with ${kind.name} (${mode === 'external' ? 'SASL EXTERNAL' : 'dialback only'})`, function () {
      this.timeout(60_000);
      let ca: TestCa | undefined;
      let srv: TestServer | undefined;
      let peer: XmppPeer | undefined;
      let sbCert: IssuedCert;
      let sbAddress = '';
      let romeo: ClientSession | undefined;
      let juliet: ClientSession | undefined;
      const sessions: ClientSession[] = [];

      /** Re-throws with both servers' view of what happened. */
      async function explained<T>(what: string, p: Promise<T>): Promise<T> {
        try {
          return await p;
        } catch (err) {
          const msg = (err as Error).message;
          throw new Error(
            `${what}: ${msg}\n--- ${kind.name} log (tail; SB_PEER_LOG=debug for stanzas, SB_TEST_LOG=debug for Switchboard's)\n${peer?.log() ?? ''}`,
          );
        }
      }

      async function connectRomeo(): Promise<ClientSession> {
        const s = await startClient({
          port: (srv as TestServer).port,
          caPem: sbCert.trustPem,
          domain: SB,
          username: ROMEO.user,
          password: ROMEO.password,
        });
        sessions.push(s);
        await goOnline(s);
        return s;
      }

      async function connectJuliet(): Promise<ClientSession> {
        const s = await peerClient(peer as XmppPeer, JULIET.user, JULIET.password);
        sessions.push(s);
        await goOnline(s);
        return s;
      }

      /**
       * Roster then initial presence, as IM clients do: only an "interested resource" (one that requested the
       * roster, RFC 6121 §2.1.6) is sent subscription approvals (§3.1.6) and roster pushes; Prosody applies this.
       */
      async function goOnline(s: ClientSession): Promise<void> {
        await s.request(xml('iq', { type: 'get' }, xml('query', { xmlns: NS_ROSTER })));
        await s.send(xml('presence'));
      }

      /** A chat message from `from` arrives at `to` (checked by body and sender). */
      async function deliver(from: ClientSession, to: ClientSession, toJid: string, text: string): Promise<void> {
        await from.send(xml('message', { to: toJid, type: 'chat' }, xml('body', {}, text)));
        const got = await explained(
          `message "${text}" from ${from.jid} to ${toJid}`,
          to.waitFor((el) => el.is('message') && bodyOf(el) === text, CROSS_MS),
        );
        assert.equal(got.attrs.type, 'chat');
        assert.equal(bare(got.attrs.from), bare(from.jid));
      }

      before(async function () {
        this.timeout(90_000);
        if (!opensslAvailable())
          skipUnlessInstalled(this, 'the openssl CLI is not installed (apt-get install openssl)');
        skipUnlessInstalled(this, kind.missing());
        if (kind.needsEtcHosts && !hostsWritable()) {
          skipUnlessInstalled(
            this,
            `${kind.name} resolves peers through /etc/hosts, which this user cannot edit (run as root)`,
          );
        }
        ca = TestCa.create();
        sbAddress = await allocateLoopback();
        const peerAddress = await allocateLoopback();
        // external: CA-issued on both sides. dialback: Switchboard self-signed; the peer keeps a CA-issued
        // certificate, but Switchboard is given no ca_file, so it cannot validate it either.
        sbCert = mode === 'external' ? ca.issue(SB) : ca.selfSigned(SB);
        const peerCert = ca.issue(PEER);
        peer = await kind.start({
          domain: PEER,
          address: peerAddress,
          cert: peerCert,
          caFile: ca.certFile,
          auth: mode,
          users: [JULIET],
          resolve: { [SB]: sbAddress },
        });
        const s2s = [
          's2s:',
          `  routes: { ${JSON.stringify(PEER)}: ${JSON.stringify(`${peerAddress}:5269`)} }`,
          `  connect_timeout_seconds: ${CONNECT_TIMEOUT_S}`,
          `  negotiation_timeout_seconds: ${NEGOTIATION_TIMEOUT_S}`,
          '  dns_timeout_seconds: 1',
          ...(mode === 'external'
            ? [`  ca_file: ${JSON.stringify(ca.certFile)}`, '  require_valid_certificates: true']
            : ['  sasl_external: true', '  dialback: true']),
        ];
        srv = await startTestServer({
          hostsYaml: `hosts:\n  ${JSON.stringify(SB)}: { tls: { cert: ${JSON.stringify(sbCert.certFile)}, key: ${JSON.stringify(sbCert.keyFile)} } }`,
          listeners: [`{ type: s2s, address: ${sbAddress}, port: 5269, tls: starttls }`],
          yaml: s2s.join('\n'),
        });
        await srv.addUser(ROMEO.user, ROMEO.password, SB);
        romeo = await connectRomeo();
        juliet = await connectJuliet();
      });

      after(async function () {
        this.timeout(60_000);
        peer?.resume();
        for (const s of sessions) await s.stop();
        await srv?.stop();
        await peer?.cleanup();
        if (sbAddress) releaseLoopback(sbAddress);
        ca?.cleanup();
      });

      it('exchanges messages both ways', async () => {
        const r = romeo as ClientSession;
        const j = juliet as ClientSession;
        await deliver(r, j, julietJid, `hello ${kind.name}, from Switchboard`);
        await deliver(j, r, romeoJid, `hello Switchboard, from ${kind.name}`);
        // A second round travels over the streams now established.
        await deliver(r, j, `${julietJid}/${bareResource(j)}`, 'to the full JID');
        await deliver(j, r, r.jid, 'to the full JID as well');
      });

      it('completes a presence subscription both ways (RFC 6121 §3) and shares availability', async () => {
        const r = romeo as ClientSession;
        const j = juliet as ClientSession;
        // Romeo asks Juliet.
        await r.send(xml('presence', { to: julietJid, type: 'subscribe' }));
        await explained(
          'subscribe from Switchboard',
          j.waitFor(
            (el) => el.is('presence') && el.attrs.type === 'subscribe' && bare(el.attrs.from) === romeoJid,
            CROSS_MS,
          ),
        );
        await j.send(xml('presence', { to: romeoJid, type: 'subscribed' }));
        await explained(
          'subscribed from the peer',
          r.waitFor(
            (el) => el.is('presence') && el.attrs.type === 'subscribed' && bare(el.attrs.from) === julietJid,
            CROSS_MS,
          ),
        );
        // Juliet's server then sends her current presence (RFC 6121 §3.1.5).
        await explained(
          "the peer user's available presence after approval",
          r.waitFor((el) => el.is('presence') && !el.attrs.type && bare(el.attrs.from) === julietJid, CROSS_MS),
        );
        // Juliet asks Romeo.
        await j.send(xml('presence', { to: romeoJid, type: 'subscribe' }));
        await explained(
          'subscribe from the peer',
          r.waitFor(
            (el) => el.is('presence') && el.attrs.type === 'subscribe' && bare(el.attrs.from) === julietJid,
            CROSS_MS,
          ),
        );
        await r.send(xml('presence', { to: julietJid, type: 'subscribed' }));
        await explained(
          'subscribed from Switchboard',
          j.waitFor(
            (el) => el.is('presence') && el.attrs.type === 'subscribed' && bare(el.attrs.from) === romeoJid,
            CROSS_MS,
          ),
        );
        await explained(
          "the Switchboard user's available presence after approval",
          j.waitFor((el) => el.is('presence') && !el.attrs.type && bare(el.attrs.from) === romeoJid, CROSS_MS),
        );
        // Both rosters now say "both".
        for (const [who, contact] of [
          [r, julietJid],
          [j, romeoJid],
        ] as const) {
          let subscription: string | undefined;
          for (let i = 0; i < 20 && subscription !== 'both'; i++) {
            const res = await who.request(xml('iq', { type: 'get' }, xml('query', { xmlns: NS_ROSTER })));
            const item = res
              .getChild('query', NS_ROSTER)
              ?.getChildren('item')
              .find((it) => it.attrs.jid === contact);
            subscription = item?.attrs.subscription;
            if (subscription !== 'both') await sleep(250);
          }
          assert.equal(subscription, 'both', `${who.jid}'s roster item for ${contact}`);
        }
      });

      it('shows each side the other’s presence changes', async () => {
        const r = romeo as ClientSession;
        const j = juliet as ClientSession;
        await j.send(xml('presence', {}, xml('show', {}, 'away'), xml('status', {}, 'on the balcony')));
        const away = await explained(
          'presence change of the peer user',
          r.waitFor(
            (el) => el.is('presence') && bare(el.attrs.from) === julietJid && el.getChildText('show') === 'away',
            CROSS_MS,
          ),
        );
        assert.equal(away.getChildText('status'), 'on the balcony');
        await r.send(xml('presence', {}, xml('show', {}, 'dnd'), xml('status', {}, 'in the orchard')));
        const dnd = await explained(
          'presence change of the Switchboard user',
          j.waitFor(
            (el) => el.is('presence') && bare(el.attrs.from) === romeoJid && el.getChildText('show') === 'dnd',
            CROSS_MS,
          ),
        );
        assert.equal(dnd.getChildText('status'), 'in the orchard');
        // A second resource of Juliet comes and goes: Romeo sees both.
        const j2 = await peerClient(peer as XmppPeer, JULIET.user, JULIET.password, 'second');
        sessions.push(j2);
        await j2.send(xml('presence', {}, xml('show', {}, 'chat')));
        await explained(
          "the peer user's second resource",
          r.waitFor((el) => el.is('presence') && el.attrs.from === `${julietJid}/second` && !el.attrs.type, CROSS_MS),
        );
        await j2.send(xml('presence', { type: 'unavailable' }));
        await explained(
          "the peer user's second resource going offline",
          r.waitFor(
            (el) => el.is('presence') && el.attrs.from === `${julietJid}/second` && el.attrs.type === 'unavailable',
            CROSS_MS,
          ),
        );
        await j2.stop();
        // Back to available for the next tests.
        await j.send(xml('presence'));
        await r.send(xml('presence'));
        await r.waitFor(
          (el) => el.is('presence') && bare(el.attrs.from) === julietJid && !el.getChild('show'),
          CROSS_MS,
        );
        await j.waitFor(
          (el) => el.is('presence') && bare(el.attrs.from) === romeoJid && !el.getChild('show'),
          CROSS_MS,
        );
      });

      it("queries the other's server: disco#info, ping, version", async () => {
        const r = romeo as ClientSession;
        const j = juliet as ClientSession;
        // Switchboard user → peer server.
        const info = await explained(
          `disco#info to ${PEER}`,
          r.request(xml('iq', { type: 'get', to: PEER }, xml('query', { xmlns: NS_DISCO_INFO })), CROSS_MS),
        );
        assert.equal(info.attrs.from, PEER);
        const q = info.getChild('query', NS_DISCO_INFO);
        assert.ok(
          q?.getChildren('identity').some((i) => i.attrs.category === 'server'),
          `server identity in ${info}`,
        );
        assert.ok(
          q?.getChildren('feature').some((f) => f.attrs.var === NS_PING),
          `ping feature in ${info}`,
        );
        const pong = await r.request(xml('iq', { type: 'get', to: PEER }, xml('ping', { xmlns: NS_PING })), CROSS_MS);
        assert.equal(pong.attrs.type, 'result');
        assert.equal(pong.attrs.from, PEER);
        const ver = await r.request(
          xml('iq', { type: 'get', to: PEER }, xml('query', { xmlns: NS_VERSION })),
          CROSS_MS,
        );
        assert.match(ver.getChild('query', NS_VERSION)?.getChildText('name') ?? '', kind.versionName);
        // Peer user → Switchboard.
        const sbInfo = await explained(
          `disco#info to ${SB}`,
          j.request(xml('iq', { type: 'get', to: SB }, xml('query', { xmlns: NS_DISCO_INFO })), CROSS_MS),
        );
        assert.equal(sbInfo.attrs.from, SB);
        const sq = sbInfo.getChild('query', NS_DISCO_INFO);
        assert.ok(
          sq?.getChildren('identity').some((i) => i.attrs.category === 'server'),
          `server identity in ${sbInfo}`,
        );
        assert.ok(
          sq?.getChildren('feature').some((f) => f.attrs.var === NS_PING),
          `ping feature in ${sbInfo}`,
        );
        const sbPong = await j.request(xml('iq', { type: 'get', to: SB }, xml('ping', { xmlns: NS_PING })), CROSS_MS);
        assert.equal(sbPong.attrs.type, 'result');
        const sbVer = await j.request(
          xml('iq', { type: 'get', to: SB }, xml('query', { xmlns: NS_VERSION })),
          CROSS_MS,
        );
        assert.equal(sbVer.getChild('query', NS_VERSION)?.getChildText('name'), 'Switchboard');
        // An iq to a user: Romeo's server answers for his bare JID (disco#info of an account, XEP-0030 §3.1).
        const acct = await explained(
          `disco#info to ${romeoJid} from the peer`,
          j.request(xml('iq', { type: 'get', to: romeoJid }, xml('query', { xmlns: NS_DISCO_INFO })), CROSS_MS),
        );
        assert.equal(acct.attrs.type, 'result');
      });

      it('keeps delivering after the peer restarts mid-conversation', async () => {
        const r = romeo as ClientSession;
        const p = peer as XmppPeer;
        await deliver(r, juliet as ClientSession, julietJid, 'before the restart');
        await p.restart();
        await (juliet as ClientSession).waitForDisconnect(10_000).catch(() => undefined);
        await (juliet as ClientSession).stop();
        juliet = await connectJuliet();
        const j = juliet;
        // Switchboard's old stream to the peer is gone: the next stanza must open a new one, not vanish.
        await deliver(r, j, julietJid, 'after the restart, to the peer');
        await deliver(j, r, romeoJid, 'after the restart, to Switchboard');
        await deliver(r, j, julietJid, 'and once more');
      });

      it(`bounces with an error within the connect timeout (${CONNECT_TIMEOUT_S} s) while the peer is down`, async () => {
        const r = romeo as ClientSession;
        await (peer as XmppPeer).stop();
        await (juliet as ClientSession).stop();
        await sleep(500);
        const t0 = Date.now();
        await r.send(xml('message', { to: julietJid, type: 'chat', id: 'down-1' }, xml('body', {}, 'anyone there?')));
        const bounce = await r.waitFor(
          (el) => el.is('message') && el.attrs.type === 'error' && el.attrs.id === 'down-1',
          CONNECT_TIMEOUT_S * 1000 + 5000,
        );
        const elapsed = Date.now() - t0;
        assert.equal(bare(bounce.attrs.from), julietJid);
        assert.ok(
          ['remote-server-not-found', 'remote-server-timeout'].includes(errorCondition(bounce) ?? ''),
          `bounce condition in ${bounce}`,
        );
        assert.ok(elapsed <= CONNECT_TIMEOUT_S * 1000 + 2000, `bounced after ${elapsed} ms`);
        // An iq bounces too, so a client's request does not hang.
        await assert.rejects(
          r.request(
            xml('iq', { type: 'get', to: PEER }, xml('ping', { xmlns: NS_PING })),
            CONNECT_TIMEOUT_S * 1000 + 5000,
          ),
          (err: Error & { condition?: string }) =>
            err.condition === 'remote-server-not-found' || err.condition === 'remote-server-timeout',
        );
      });

      it(`bounces with remote-server-timeout within the negotiation timeout (${NEGOTIATION_TIMEOUT_S} s) when the peer hangs`, async function () {
        this.timeout(NEGOTIATION_TIMEOUT_S * 1000 + 40_000);
        const r = romeo as ClientSession;
        const p = peer as XmppPeer;
        await p.start();
        // Frozen: the kernel still completes TCP handshakes, but no stream header ever comes back.
        p.pause();
        try {
          const t0 = Date.now();
          await r.send(xml('message', { to: julietJid, type: 'chat', id: 'hang-1' }, xml('body', {}, 'hello?')));
          const bounce = await r.waitFor(
            (el) => el.is('message') && el.attrs.type === 'error' && el.attrs.id === 'hang-1',
            NEGOTIATION_TIMEOUT_S * 1000 + 5000,
          );
          const elapsed = Date.now() - t0;
          assert.equal(errorCondition(bounce), 'remote-server-timeout', `bounce condition in ${bounce}`);
          assert.ok(elapsed <= NEGOTIATION_TIMEOUT_S * 1000 + 2000, `bounced after ${elapsed} ms`);
        } finally {
          p.resume();
        }
        // Once the peer answers again, the next message gets through.
        juliet = await connectJuliet();
        await deliver(r, juliet, julietJid, 'you are back');
        await deliver(juliet, r, romeoJid, 'I am back');
      });
    });
  }
}

/** The resource part of a session's JID. */
function bareResource(s: ClientSession): string {
  return s.jid.split('/').slice(1).join('/');
}
