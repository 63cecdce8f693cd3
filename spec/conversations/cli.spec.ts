// Conversations: the `switchboard` command line run as a child process against SQLite in a temporary directory,
// then checked through a real server and real logins on the same database file.
import assert from 'node:assert/strict';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createKnexStorage } from '../../storage/knex/index.js';
import { makeCliDir, runCli, runCliOnTerminal, startCli } from '../helpers/cli.js';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** Starts a test server on an existing SQLite file (memory for nothing else). */
async function serverOn(dbPath: string): Promise<TestServer> {
  return startTestServer({ storage: await createKnexStorage({ driver: 'sqlite', path: dbPath }) });
}

/** SASL outcome for a login on `srv`: undefined on success, else the failure condition. */
async function loginCondition(srv: TestServer, username: string, password: string): Promise<string | undefined> {
  const c = await RawClient.connect({ port: srv.port });
  try {
    await c.openStream();
    await c.starttls();
    return (await c.authenticate('SCRAM-SHA-256', username, password)).condition;
  } finally {
    c.destroy();
  }
}

describe('conversations: command line', function () {
  this.timeout(60_000);

  describe('account management', () => {
    let dir: string;
    let dbPath: string;
    before(() => {
      ({ dir, dbPath } = makeCliDir());
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('adduser reads the password from standard input when it is piped', async () => {
      const r = await runCli(['adduser', 'alice@localhost'], { cwd: dir, input: 'alice-password\n' });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /created alice@localhost/);
    });

    it('adduser reads the password from --password-file', async () => {
      writeFileSync(join(dir, 'bob.pw'), 'bob-password\n');
      const r = await runCli(['adduser', 'bob@localhost', '--password-file', 'bob.pw'], { cwd: dir });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /created bob@localhost/);
    });

    it('adduser refuses an existing account with a non-zero exit and a clear message', async () => {
      const r = await runCli(['adduser', 'alice@localhost'], { cwd: dir, input: 'other-password\n' });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /alice@localhost already exists/);
    });

    it('adduser refuses a JID that is not a user of a served host', async () => {
      const foreign = await runCli(['adduser', 'eve@elsewhere.example'], { cwd: dir, input: 'x-password\n' });
      assert.notEqual(foreign.code, 0);
      assert.match(foreign.stderr, /elsewhere\.example is not a host of this server/);
      const noLocal = await runCli(['adduser', 'localhost'], { cwd: dir, input: 'x-password\n' });
      assert.notEqual(noLocal.code, 0);
      assert.match(noLocal.stderr, /not a user JID/);
    });

    it('passwd changes a password (from standard input) and refuses unknown accounts', async () => {
      const r = await runCli(['passwd', 'bob@localhost'], { cwd: dir, input: 'bob-new-password\n' });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /password changed for bob@localhost/);
      const missing = await runCli(['passwd', 'nobody@localhost'], { cwd: dir, input: 'whatever\n' });
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /no account nobody@localhost/);
    });

    it('passwd prompts on a terminal without echoing, and asks twice', async () => {
      const r = await runCliOnTerminal(['passwd', 'alice@localhost'], ['alice-typed-secret', 'alice-typed-secret'], {
        cwd: dir,
      });
      assert.equal(r.code, 0, r.stdout);
      assert.match(r.stdout, /Password for alice@localhost: /);
      assert.match(r.stdout, /Again: /);
      assert.match(r.stdout, /password changed for alice@localhost/);
      assert.doesNotMatch(r.stdout, /alice-typed-secret/, 'the password is not echoed');
    });

    it('adduser on a terminal refuses two different entries', async () => {
      const r = await runCliOnTerminal(['adduser', 'zoe@localhost'], ['first-entry', 'second-entry'], { cwd: dir });
      assert.notEqual(r.code, 0, r.stdout);
      assert.match(r.stdout, /passwords do not match/);
    });

    it('deluser deletes an account, and fails clearly for one that does not exist', async () => {
      assert.equal((await runCli(['adduser', 'carol@localhost'], { cwd: dir, input: 'carol-password\n' })).code, 0);
      const r = await runCli(['deluser', 'carol@localhost'], { cwd: dir });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /deleted carol@localhost/);
      const again = await runCli(['deluser', 'carol@localhost'], { cwd: dir });
      assert.notEqual(again.code, 0);
      assert.match(again.stderr, /no account carol@localhost/);
    });

    it('leaves accounts that log in with the passwords given, over a real stream', async () => {
      const srv = await serverOn(dbPath);
      try {
        assert.equal(await loginCondition(srv, 'alice', 'alice-typed-secret'), undefined);
        assert.equal(await loginCondition(srv, 'alice', 'alice-password'), 'not-authorized');
        assert.equal(await loginCondition(srv, 'bob', 'bob-new-password'), undefined);
        assert.equal(await loginCondition(srv, 'bob', 'bob-password'), 'not-authorized');
        assert.equal(await loginCondition(srv, 'carol', 'carol-password'), 'not-authorized');
        assert.equal(await srv.server.accounts.exists('localhost', 'carol'), false);
      } finally {
        await srv.stop();
      }
    });

    it('answers unknown commands and missing arguments with usage (exit 2)', async () => {
      const unknown = await runCli(['frobnicate'], { cwd: dir });
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /unknown command "frobnicate"/);
      assert.match(unknown.stderr, /usage:/);
      const none = await runCli([], { cwd: dir });
      assert.equal(none.code, 2);
    });
  });

  describe('bulk provisioning', () => {
    it('adduser --from-file creates 10,000 accounts well under a minute', async function () {
      this.timeout(120_000);
      const { dir, dbPath } = makeCliDir();
      try {
        const lines = ['# generated by the test', ''];
        for (let i = 0; i < 10_000; i++) lines.push(`user${i}@localhost\tpassword-${i}`);
        writeFileSync(join(dir, 'accounts.tsv'), `${lines.join('\n')}\n`);
        const r = await runCli(['adduser', '--from-file', 'accounts.tsv'], { cwd: dir, timeoutMs: 90_000 });
        console.log(`      (adduser --from-file with 10,000 accounts took ${(r.ms / 1000).toFixed(1)} s)`);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /created 10000 account\(s\), 0 already existed/);
        assert.ok(r.ms < 60_000, `took ${r.ms} ms`);

        const srv = await serverOn(dbPath);
        try {
          assert.equal(await srv.server.storage.accounts.count('localhost'), 10_000);
          assert.equal(await loginCondition(srv, 'user0', 'password-0'), undefined);
          assert.equal(await loginCondition(srv, 'user7777', 'password-7777'), undefined);
          assert.equal(await loginCondition(srv, 'user9999', 'password-1'), 'not-authorized');
        } finally {
          await srv.stop();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('adduser --from-file names the file and line of a malformed entry', async () => {
      const { dir } = makeCliDir();
      try {
        writeFileSync(join(dir, 'bad.tsv'), 'ok@localhost\tpassword-1\nno-tab-here@localhost password\n');
        const r = await runCli(['adduser', '--from-file', 'bad.tsv'], { cwd: dir });
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /bad\.tsv:2: expected "jid<TAB>password"/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('check', () => {
    it('exits 0 for a valid configuration', async () => {
      const { dir } = makeCliDir();
      try {
        const r = await runCli(['check'], { cwd: dir });
        assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
        assert.match(r.stdout, /config: switchboard\.yaml: ok/);
        assert.match(r.stdout, /all checks passed/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('exits 3 for an invalid configuration and names the YAML path of each problem', async () => {
      const { dir } = makeCliDir();
      try {
        writeFileSync(
          join(dir, 'broken.yaml'),
          [
            'hosts:',
            '  localhost: {}',
            'listeners:',
            '  - { type: c2s, address: 127.0.0.1, port: "five" }',
            'auth: { mechanisms: [PLAIN], colour: blue }',
          ].join('\n'),
        );
        const r = await runCli(['check', '--config', 'broken.yaml'], { cwd: dir });
        assert.equal(r.code, 3, `${r.stdout}\n${r.stderr}`);
        assert.match(r.stderr, /broken\.yaml/);
        assert.match(r.stderr, /listeners\[0\]\.port/);
        assert.match(r.stderr, /auth: unknown key "colour"/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('exits 3 when the --config file does not exist', async () => {
      const { dir } = makeCliDir();
      try {
        const r = await runCli(['check', '--config', 'missing.yaml'], { cwd: dir });
        assert.equal(r.code, 3);
        assert.match(r.stderr, /missing\.yaml/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('start', () => {
    it('prints where it listens, serves clients, and stops cleanly on SIGTERM', async () => {
      const { dir } = makeCliDir();
      // --config with another file name, for the account command and for start alike.
      renameSync(join(dir, 'switchboard.yaml'), join(dir, 'custom.yaml'));
      const add = await runCli(['adduser', 'dave@localhost', '--config', 'custom.yaml'], {
        cwd: dir,
        input: 'dave-password\n',
      });
      assert.equal(add.code, 0, add.stderr);
      const proc = startCli(['start', '--config', 'custom.yaml'], dir);
      try {
        await proc.waitForOutput(/config: custom\.yaml/);
        const starttls = await proc.waitForOutput(/listening: c2s \(starttls\) on 127\.0\.0\.1:(\d+)/);
        const direct = await proc.waitForOutput(/listening: c2s \(direct\) on 127\.0\.0\.1:(\d+)/);
        const http = await proc.waitForOutput(/listening: http on 127\.0\.0\.1:(\d+)/);
        const c = await RawClient.login({ port: Number(starttls[1]), username: 'dave', password: 'dave-password' });
        const d = await RawClient.login({
          port: Number(direct[1]),
          directTls: true,
          username: 'dave',
          password: 'dave-password',
          mechanism: 'SCRAM-SHA-256-PLUS',
        });
        assert.equal((await fetch(`http://127.0.0.1:${http[1]}/health`)).status, 200);
        const { code, signal } = await proc.stop();
        assert.equal(signal, null, 'exits by itself rather than being killed');
        assert.equal(code, 0, proc.stderr);
        assert.match(proc.stdout, /shutting down/);
        // RFC 6120 §4.9.3.20: clients are told the server is going down.
        assert.equal(await c.waitForStreamError(), 'system-shutdown');
        assert.equal(await d.waitForStreamError(), 'system-shutdown');
        c.destroy();
        d.destroy();
      } finally {
        await proc.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
