// End to end through the SIP gateway (mode `domain`): an XMPP user's message to a SIP user agent that answers with a
// failure comes back as the stanza error RFC 7247 §7.2 (Table 3) gives that code, with the SIP code and phrase as the
// text. The expected conditions are the RFC's; the unit tests (spec/unit/gateways/sip-errors.spec.ts) cover every row.
import assert from 'node:assert/strict';
import {
  type ClientSession,
  type Element,
  fresh,
  login,
  NS_STANZAS,
  rosterGet,
  stopAll,
  xml,
} from '../helpers/im-clients.js';
import { registerWithGateway } from '../helpers/irc-gateway.js';
import { freePort, startTestServer, type TestServer } from '../helpers/server.js';
import { SipUdp, uniq } from '../helpers/sip.js';

const GW = 'sip.localhost';

describe('SIP gateway: SIP failures as XMPP errors (RFC 7247 §7.2)', function () {
  this.timeout(30_000);
  let srv: TestServer;
  let ua: SipUdp;
  let c: ClientSession;

  before(async () => {
    const port = await freePort();
    srv = await startTestServer({
      yaml: [
        'gateways:',
        `  ${GW}:`,
        '    driver: sip',
        '    options:',
        '      mode: domain',
        `      sip_listen: [{ transport: udp, address: 127.0.0.1, port: ${port} }]`,
        '      xmpp_domain: localhost',
        '      timer_t1_ms: 50',
      ].join('\n'),
    });
    ua = await SipUdp.open();
    const name = fresh('siperr');
    await srv.addUser(name, `${name}-secret`);
    c = await login(srv, name);
    await rosterGet(c);
    await c.send(xml('presence'));
    await registerWithGateway(c, GW, {});
    await c.waitFor((el) => el.is('presence') && el.attrs.from === GW && el.attrs.type === undefined, 10_000);
  });
  after(async () => {
    await stopAll([c]);
    await ua?.close();
    await srv?.stop();
  });

  /** Sends a message to the user agent, answers the MESSAGE with `status`, and returns the error stanza. */
  async function failWith(status: number, reason: string): Promise<Element> {
    const to = `bob\\40127.0.0.1\\3a${ua.port}@${GW}`;
    const id = uniq('m');
    await c.send(xml('message', { to, id, type: 'chat' }, xml('body', {}, `answer ${status}`)));
    const req = await ua.next((m) => m.kind === 'request' && m.method === 'MESSAGE', 5000, 'the MESSAGE');
    const via = req.headers.all('Via')[0] ?? '';
    await ua.reply(req, status, reason, Number(/:(\d+)/.exec(via.split(';')[0] ?? '')?.[1]));
    return c.waitFor((el) => el.is('message') && el.attrs.id === id && el.attrs.type === 'error', 5000);
  }

  const conditionOf = (el: Element) =>
    el
      .getChild('error')
      ?.children.find(
        (ch): ch is Element => typeof ch !== 'string' && ch.attrs.xmlns === NS_STANZAS && ch.name !== 'text',
      )?.name;

  // A few rows of Table 3, chosen where a gateway is most likely to get them wrong, plus an unlisted code.
  const rows: [number, string, string][] = [
    [503, 'Service Unavailable', 'internal-server-error'], // note 9: not service-unavailable
    [603, 'Decline', 'recipient-unavailable'],
    [415, 'Unsupported Media Type', 'not-acceptable'],
    [404, 'Not Found', 'item-not-found'],
    [486, 'Busy Here', 'recipient-unavailable'],
    [499, 'Whatever', 'bad-request'], // not in the table: by class
  ];
  for (const [status, reason, condition] of rows) {
    it(`SIP ${status} → <${condition}/>`, async () => {
      const err = await failWith(status, reason);
      assert.equal(conditionOf(err), condition);
      assert.equal(err.getChild('error')?.getChildText('text', NS_STANZAS), `SIP ${status} ${reason}`);
    });
  }
});
