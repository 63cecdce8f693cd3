// Validates the real-peer harness itself (spec/helpers/peers/): a private Prosody and a private ejabberd federate
// with each other, before any test relies on them against Switchboard. If this fails, the federation interop
// failures are the harness's, not Switchboard's.
import assert from 'node:assert/strict';
import { type IssuedCert, opensslAvailable, TestCa } from '../helpers/peers/ca.js';
import { EjabberdPeer, ejabberdMissing } from '../helpers/peers/ejabberd.js';
import { type PeerAuthMode, peerClient, skipUnlessInstalled, type XmppPeer } from '../helpers/peers/peer.js';
import { ProsodyPeer, prosodyMissing } from '../helpers/peers/prosody.js';
import { allocateLoopback, hostsWritable, RUN_TAG } from '../helpers/peers/system.js';
import { type ClientSession, xml } from '../helpers/xmpp-client.js';

const PDOMAIN = `prosody.harness.${RUN_TAG}.test`;
const EDOMAIN = `ejabberd.harness.${RUN_TAG}.test`;

function missingPeers(): string | undefined {
  if (!opensslAvailable()) return 'the openssl CLI is not installed (apt-get install openssl)';
  const missing = prosodyMissing() ?? ejabberdMissing();
  if (missing) return missing;
  if (!hostsWritable()) return 'ejabberd resolves peers through /etc/hosts, which this user cannot edit (run as root)';
  return undefined;
}

const body = (el: { getChildText(name: string): string | null }) => el.getChildText('body');

for (const mode of ['external', 'dialback'] as PeerAuthMode[]) {
  describe(`interop harness: Prosody <-> ejabberd federation (${mode})`, function () {
    this.timeout(60_000);
    let ca: TestCa | undefined;
    let prosody: XmppPeer | undefined;
    let ejabberd: XmppPeer | undefined;
    const clients: ClientSession[] = [];

    before(async function () {
      skipUnlessInstalled(this, missingPeers());
      ca = TestCa.create();
      const [pAddr, eAddr] = [await allocateLoopback(), await allocateLoopback()];
      // dialback: self-signed certificates nobody trusts, so neither side can use SASL EXTERNAL.
      const cert = (domain: string): IssuedCert =>
        mode === 'external' ? (ca as TestCa).issue(domain) : (ca as TestCa).selfSigned(domain);
      const common = { auth: mode, caFile: ca.certFile, users: [{ user: 'alice', password: 'pw-alice' }] };
      prosody = await ProsodyPeer.start({
        ...common,
        domain: PDOMAIN,
        address: pAddr,
        cert: cert(PDOMAIN),
        resolve: { [EDOMAIN]: eAddr },
      });
      ejabberd = await EjabberdPeer.start({
        ...common,
        domain: EDOMAIN,
        address: eAddr,
        cert: cert(EDOMAIN),
        resolve: { [PDOMAIN]: pAddr },
      });
    });

    after(async () => {
      for (const c of clients) await c.stop();
      await prosody?.cleanup();
      await ejabberd?.cleanup();
      ca?.cleanup();
    });

    it('exchanges messages both ways between a Prosody user and an ejabberd user', async () => {
      const p = prosody as XmppPeer;
      const e = ejabberd as XmppPeer;
      const a = await peerClient(p, 'alice', 'pw-alice');
      clients.push(a);
      const b = await peerClient(e, 'alice', 'pw-alice');
      clients.push(b);
      await a.send(xml('presence'));
      await b.send(xml('presence'));
      const from = (el: { attrs: Record<string, string> }) => el.attrs.from?.split('/')[0];
      try {
        await a.send(xml('message', { to: `alice@${EDOMAIN}`, type: 'chat' }, xml('body', {}, 'p->e')));
        const got = await b.waitFor((el) => el.is('message') && body(el) === 'p->e', 15_000);
        assert.equal(from(got), `alice@${PDOMAIN}`);
        assert.equal(got.attrs.type, 'chat');
        await b.send(xml('message', { to: `alice@${PDOMAIN}`, type: 'chat' }, xml('body', {}, 'e->p')));
        const back = await a.waitFor((el) => el.is('message') && body(el) === 'e->p', 15_000);
        assert.equal(from(back), `alice@${EDOMAIN}`);
      } catch (err) {
        throw new Error(`${(err as Error).message}\n--- prosody log\n${p.log()}\n--- ejabberd log\n${e.log()}`);
      }
    });
  });
}
