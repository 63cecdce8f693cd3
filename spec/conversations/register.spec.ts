// Conversations: in-band registration (XEP-0077) over real sockets, off by default and rate-limited when on.
import assert from 'node:assert/strict';
import { type Element, NS_STANZAS, RawClient } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const NS_REGISTER = 'jabber:iq:register';
const NS_REGISTER_FEATURE = 'http://jabber.org/features/iq-register';

const condition = (el: Element): string | undefined =>
  el
    .getChild('error')
    ?.getChildElements()
    .find((c) => c.getNS() === NS_STANZAS && c.name !== 'text')?.name;

/** A TLS stream that has not authenticated, from `localAddress` (each test uses its own loopback address). */
async function preAuth(srv: TestServer, localAddress: string): Promise<RawClient> {
  const c = await RawClient.connect({ port: srv.port, localAddress });
  await c.openStream();
  await c.starttls();
  return c;
}

function registerIq(username: string, password: string): string {
  return `<iq type='set' id='ID'><query xmlns='${NS_REGISTER}'><username>${username}</username><password>${password}</password></query></iq>`;
}

/** Result condition of a SASL attempt: undefined on success. */
async function tryLogin(srv: TestServer, username: string, password: string): Promise<string | undefined> {
  const c = await RawClient.connect({ port: srv.port, localAddress: '127.0.0.99' });
  try {
    await c.openStream();
    await c.starttls();
    return (await c.authenticate('SCRAM-SHA-256', username, password)).condition;
  } finally {
    c.destroy();
  }
}

describe('conversations: in-band registration (XEP-0077)', function () {
  this.timeout(20_000);

  describe('by default', () => {
    let srv: TestServer;
    before(async () => {
      srv = await startTestServer();
    });
    after(() => srv.stop());

    it('does not offer the register stream feature', async () => {
      const c = await preAuth(srv, '127.0.0.1');
      try {
        assert.equal(c.features?.getChild('register', NS_REGISTER_FEATURE), undefined, c.features?.toString());
      } finally {
        c.destroy();
      }
    });

    it('closes the stream with not-authorized on a registration attempt before authentication', async () => {
      const c = await preAuth(srv, '127.0.0.1');
      try {
        c.send(registerIq('mallory', 'long-enough-password'));
        assert.equal(await c.waitForStreamError(), 'not-authorized');
        await c.waitForEnd();
      } finally {
        c.destroy();
      }
      assert.equal(await srv.server.accounts.exists('localhost', 'mallory'), false);
    });
  });

  describe('when enabled', () => {
    let srv: TestServer;
    before(async () => {
      srv = await startTestServer({ yaml: 'modules:\n  register: { enabled: true, per_ip_per_hour: 2 }' });
      await srv.addUser('alice', 'alice-secret');
    });
    after(() => srv.stop());

    it('offers the register stream feature and the registration fields (XEP-0077 §3.1, §8)', async () => {
      const c = await preAuth(srv, '127.0.0.30');
      try {
        assert.ok(c.features?.getChild('register', NS_REGISTER_FEATURE), c.features?.toString());
        const form = await c.iq(`<iq type='get' id='ID'><query xmlns='${NS_REGISTER}'/></iq>`);
        assert.equal(form.attrs.type, 'result');
        const q = form.getChild('query', NS_REGISTER);
        assert.ok(q?.getChild('username') && q.getChild('password'), form.toString());
      } finally {
        c.destroy();
      }
    });

    it('registers an account that can then log in', async () => {
      const c = await preAuth(srv, '127.0.0.31');
      try {
        const res = await c.iq(registerIq('newbie', 'newbie-password'));
        assert.equal(res.attrs.type, 'result', res.toString());
        // The same stream may now authenticate with the new account (XEP-0077 §3.1).
        const auth = await c.authenticate('SCRAM-SHA-1', 'newbie', 'newbie-password');
        assert.ok(auth.ok, auth.element.toString());
        assert.equal(await c.bind('r'), 'newbie@localhost/r');
      } finally {
        c.destroy();
      }
      assert.equal(await tryLogin(srv, 'newbie', 'newbie-password'), undefined);
    });

    it('answers a taken username with conflict', async () => {
      const c = await preAuth(srv, '127.0.0.32');
      try {
        const res = await c.iq(registerIq('alice', 'another-password'));
        assert.equal(res.attrs.type, 'error');
        assert.equal(condition(res), 'conflict', res.toString());
      } finally {
        c.destroy();
      }
      // The existing account keeps its password.
      assert.equal(await tryLogin(srv, 'alice', 'alice-secret'), undefined);
    });

    it('answers a too short password with not-acceptable', async () => {
      const c = await preAuth(srv, '127.0.0.33');
      try {
        const res = await c.iq(registerIq('shorty', 'short'));
        assert.equal(condition(res), 'not-acceptable', res.toString());
      } finally {
        c.destroy();
      }
    });

    it('refuses the third registration from one address within the hour with resource-constraint (XEP-0077 §3.1)', async () => {
      for (const name of ['first', 'second']) {
        const c = await preAuth(srv, '127.0.0.34');
        try {
          const res = await c.iq(registerIq(name, `${name}-password`));
          assert.equal(res.attrs.type, 'result', res.toString());
        } finally {
          c.destroy();
        }
      }
      const c = await preAuth(srv, '127.0.0.34');
      try {
        const res = await c.iq(registerIq('third', 'third-password'));
        assert.equal(res.attrs.type, 'error');
        assert.equal(condition(res), 'resource-constraint', res.toString());
        assert.equal(res.getChild('error')?.attrs.type, 'wait');
      } finally {
        c.destroy();
      }
      assert.equal(await srv.server.accounts.exists('localhost', 'third'), false);
      // Another address may still register.
      const other = await preAuth(srv, '127.0.0.35');
      try {
        assert.equal((await other.iq(registerIq('third', 'third-password'))).attrs.type, 'result');
      } finally {
        other.destroy();
      }
    });

    it('refuses account removal before authentication', async () => {
      const c = await preAuth(srv, '127.0.0.36');
      try {
        const res = await c.iq(`<iq type='set' id='ID'><query xmlns='${NS_REGISTER}'><remove/></query></iq>`);
        assert.equal(condition(res), 'not-authorized', res.toString());
      } finally {
        c.destroy();
      }
    });

    it('changes the password of the logged-in user; the old one then fails (XEP-0077 §3.3)', async () => {
      await srv.addUser('changer', 'old-password');
      const c = await RawClient.login({ port: srv.port, username: 'changer', password: 'old-password' });
      try {
        const info = await c.iq(`<iq type='get' id='ID'><query xmlns='${NS_REGISTER}'/></iq>`);
        assert.ok(info.getChild('query', NS_REGISTER)?.getChild('registered'), info.toString());
        const res = await c.iq(
          `<iq type='set' to='localhost' id='ID'><query xmlns='${NS_REGISTER}'><username>changer</username><password>new-password</password></query></iq>`,
        );
        assert.equal(res.attrs.type, 'result', res.toString());
      } finally {
        await c.close();
      }
      assert.equal(await tryLogin(srv, 'changer', 'old-password'), 'not-authorized');
      assert.equal(await tryLogin(srv, 'changer', 'new-password'), undefined);
    });

    it("refuses to change another user's password", async () => {
      await srv.addUser('eve', 'eve-password');
      const c = await RawClient.login({ port: srv.port, username: 'eve', password: 'eve-password' });
      try {
        const res = await c.iq(
          `<iq type='set' id='ID'><query xmlns='${NS_REGISTER}'><username>alice</username><password>pwned-password</password></query></iq>`,
        );
        assert.equal(res.attrs.type, 'error');
        assert.equal(condition(res), 'not-allowed', res.toString());
      } finally {
        await c.close();
      }
      assert.equal(await tryLogin(srv, 'alice', 'alice-secret'), undefined);
    });

    it('removes the account of the logged-in user and ends its sessions (XEP-0077 §3.2)', async () => {
      await srv.addUser('leaver', 'leaver-password');
      const other = await RawClient.login({
        port: srv.port,
        username: 'leaver',
        password: 'leaver-password',
        resource: 'b',
      });
      const c = await RawClient.login({
        port: srv.port,
        username: 'leaver',
        password: 'leaver-password',
        resource: 'a',
      });
      try {
        const res = await c.iq(`<iq type='set' id='ID'><query xmlns='${NS_REGISTER}'><remove/></query></iq>`);
        assert.equal(res.attrs.type, 'result', res.toString());
        await c.waitForEnd();
        await other.waitForEnd();
      } finally {
        c.destroy();
        other.destroy();
      }
      assert.equal(await srv.server.accounts.exists('localhost', 'leaver'), false);
      assert.equal(await tryLogin(srv, 'leaver', 'leaver-password'), 'not-authorized');
    });
  });
});
