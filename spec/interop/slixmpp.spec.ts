// Interop with a client not written in JavaScript: slixmpp from Debian (python3-slixmpp), DESIGN §8 item 5.
// The Python peer (slixmpp_client.py) logs in over STARTTLS, messages an @xmpp/client user, waits for the reply,
// then pings, discovers and asks the server's version; it reports each step as a JSON line.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { type ClientSession, startClient, xml } from '../helpers/xmpp-client.js';

/** Debian's interpreter, not another python3 on PATH (which would not see python3-slixmpp). */
const PYTHON = '/usr/bin/python3';
const SCRIPT = join(fileURLToPath(new URL('.', import.meta.url)), 'slixmpp_client.py');

interface PeerEvent {
  event: string;
  [field: string]: unknown;
}

interface PeerRun {
  code: number | null;
  events: PeerEvent[];
  stderr: string;
}

/** slixmpp's version, or why it cannot be used. */
function slixmppVersion(): { version: string } | { missing: string } {
  const r = spawnSync(PYTHON, ['-c', 'import slixmpp; print(slixmpp.__version__)'], { encoding: 'utf8' });
  if (r.error) return { missing: `${PYTHON} cannot run: ${r.error.message}` };
  if (r.status !== 0)
    return { missing: `slixmpp is not importable by ${PYTHON} (apt-get install python3-slixmpp): ${r.stderr.trim()}` };
  return { version: r.stdout.trim() };
}

/** Runs the Python peer to its end and collects its JSON lines. */
function runPeer(args: string[], timeoutMs = 25_000): Promise<PeerRun> {
  const child = spawn(PYTHON, [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const events: PeerEvent[] = [];
  let stderr = '';
  let pending = '';
  child.stdout.on('data', (d: Buffer) => {
    pending += d.toString('utf8');
    let nl = pending.indexOf('\n');
    while (nl >= 0) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      if (line) {
        events.push(JSON.parse(line) as PeerEvent);
      }
      nl = pending.indexOf('\n');
    }
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString('utf8');
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`slixmpp peer did not finish in ${timeoutMs} ms; events ${JSON.stringify(events)}\n${stderr}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, events, stderr });
    });
  });
}

describe('interop: slixmpp (python3-slixmpp)', function () {
  this.timeout(30_000);
  let srv: TestServer;
  let bob: ClientSession;
  let version = '';

  before(async function () {
    const found = slixmppVersion();
    if ('missing' in found) {
      if (process.env.REQUIRE_PEERS === '1') throw new Error(`REQUIRE_PEERS=1 but ${found.missing}`);
      console.log(`      skipped: ${found.missing}`);
      this.skip();
    }
    version = found.version;
    // Failed logins below must not lock out the loopback address for the tests that follow.
    srv = await startTestServer({ yaml: 'auth: { throttle: { max_failures: 50 } }' });
    await srv.addUser('alice', 'alice-from-python');
    await srv.addUser('bob', 'bob-from-node');
    bob = await startClient({
      port: srv.port,
      dataDir: srv.dataDir,
      username: 'bob',
      password: 'bob-from-node',
      resource: 'node',
    });
    await bob.send(xml('presence'));
  });
  after(async () => {
    await bob?.stop();
    await srv?.stop();
  });

  it('logs in over STARTTLS, exchanges messages with an @xmpp/client user, pings and discovers the server', async () => {
    // bob answers the first chat message from alice, addressed to the full JID it came from.
    const replied = bob
      .waitFor((el) => el.is('message') && el.attrs.from?.startsWith('alice@localhost/') === true, 20_000)
      .then((m) =>
        bob.send(
          xml('message', { to: m.attrs.from ?? '', type: 'chat' }, xml('body', {}, `echo: ${m.getChildText('body')}`)),
        ),
      );
    // Checked after the peer's own report, which says more when something went wrong.
    replied.catch(() => {});
    const run = await runPeer([
      ...['--port', String(srv.port), '--jid', 'alice@localhost/py', '--password', 'alice-from-python'],
      ...['--ca', join(srv.dataDir, 'tls', 'selfsigned.crt'), '--to', 'bob@localhost', '--body', 'hello from slixmpp'],
      ...['--timeout', '8', '--no-channel-binding'],
    ]);
    const byName = (name: string) => run.events.find((e) => e.event === name);
    const report = `events: ${JSON.stringify(run.events)}\nstderr: ${run.stderr}`;
    assert.equal(run.code, 0, report);
    await replied;

    const start = byName('session_start');
    assert.equal(start?.jid, 'alice@localhost/py', report);
    assert.match(String(start?.tls_version), /^TLSv1\.[23]$/, report);
    assert.equal(start?.mechanism, 'SCRAM-SHA-256', report);
    assert.equal(run.events.filter((e) => e.event === 'failed_auth').length, 0, report);

    const msg = byName('message');
    assert.equal(msg?.from, 'bob@localhost/node', report);
    assert.equal(msg?.to, 'alice@localhost/py', report);
    assert.equal(msg?.body, 'echo: hello from slixmpp', report);

    assert.ok(typeof byName('ping')?.rtt === 'number', report);
    const disco = byName('disco_info');
    assert.deepEqual(
      (disco?.identities as string[][] | undefined)?.some(([c, t]) => c === 'server' && t === 'im'),
      true,
      report,
    );
    assert.ok((disco?.features as string[] | undefined)?.includes('urn:xmpp:ping'), report);
    assert.equal(byName('version')?.name, 'Switchboard', report);
  });

  it('reports a failed login for a wrong password', async () => {
    const run = await runPeer([
      ...['--port', String(srv.port), '--jid', 'alice@localhost/py', '--password', 'not-the-password'],
      ...['--ca', join(srv.dataDir, 'tls', 'selfsigned.crt'), '--to', 'bob@localhost', '--body', 'x'],
      ...['--timeout', '4', '--no-channel-binding'],
    ]);
    const report = `events: ${JSON.stringify(run.events)}\nstderr: ${run.stderr}`;
    assert.equal(run.code, 1, report);
    assert.ok(
      run.events.some((e) => e.event === 'failed_auth' && e.condition === 'not-authorized'),
      report,
    );
    assert.equal(
      run.events.some((e) => e.event === 'session_start'),
      false,
      report,
    );
  });

  it('refuses the channel-binding downgrade that slixmpp 1.8.3 attempts by default (RFC 5802 §6)', async function () {
    // slixmpp 1.8.3 (Debian bookworm) binds -PLUS only to tls-unique, which TLS 1.3 lacks (RFC 9266) and this
    // server does not offer; it then retries without -PLUS but sets the gs2 flag 'y' ("the server seems not to
    // support channel binding"). A server that offered -PLUS MUST refuse that as a downgrade (RFC 5802 §6).
    if (version !== '1.8.3') this.skip();
    const run = await runPeer([
      ...['--port', String(srv.port), '--jid', 'alice@localhost/py', '--password', 'alice-from-python'],
      ...['--ca', join(srv.dataDir, 'tls', 'selfsigned.crt'), '--to', 'bob@localhost', '--body', 'x', '--timeout', '4'],
    ]);
    const report = `events: ${JSON.stringify(run.events)}\nstderr: ${run.stderr}`;
    const failures = run.events.filter((e) => e.event === 'failed_auth');
    assert.ok(
      failures.some((e) => String(e.mechanism).endsWith('-PLUS') && e.text === 'unsupported-channel-binding-type'),
      report,
    );
    assert.ok(
      failures.some((e) => !String(e.mechanism).endsWith('-PLUS') && e.text === 'server-does-support-channel-binding'),
      report,
    );
    assert.equal(
      run.events.some((e) => e.event === 'session_start'),
      false,
      report,
    );
  });
});
