// The IRC client (gateways/irc/client.ts) against a scripted IRC server on loopback: IRCv3 CAP LS 302 and
// sasl-3.1 PLAIN, RFC 2812 registration without CAP, nick collisions, PING/PONG, keepalive, pacing, and what a
// misbehaving server sends (over-long lines, invalid UTF-8).
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { IrcClient, type IrcClientOptions, IrcLoginError } from '../../../gateways/irc/client.js';
import { IrcCodecError, parseMessage } from '../../../gateways/irc/codec.js';

type Script = (line: string, s: FakeIrc) => void;

/** One-connection IRC server: records every line and lets the test's script answer. */
class FakeIrc {
  readonly lines: string[] = [];
  readonly stamps: number[] = [];
  socket: Socket | undefined;
  private waiters: (() => void)[] = [];
  constructor(
    readonly server: Server,
    private readonly script: Script,
  ) {
    server.on('connection', (sock) => {
      this.socket = sock;
      let buf = '';
      sock.setEncoding('latin1');
      sock.on('data', (d: string) => {
        buf += d;
        for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 2);
          this.lines.push(line);
          this.stamps.push(Date.now());
          this.script(line, this);
          for (const w of this.waiters.splice(0)) w();
        }
      });
      sock.on('error', () => {});
    });
  }
  get port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a ? a.port : 0;
  }
  send(line: string | Buffer): void {
    this.socket?.write(typeof line === 'string' ? `${line}\r\n` : line);
  }
  async waitLine(pred: (l: string) => boolean, ms = 3000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.lines.find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`no such line; got ${JSON.stringify(this.lines)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }
}

const servers: Server[] = [];
const clients: IrcClient[] = [];

async function fake(script: Script): Promise<FakeIrc> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return new FakeIrc(server, script);
}

function client(f: FakeIrc, opts: Partial<IrcClientOptions> = {}): IrcClient {
  const c = new IrcClient({ host: '127.0.0.1', port: f.port, nick: 'me', capTimeoutMs: 300, ...opts });
  clients.push(c);
  return c;
}

/** A server that welcomes once NICK and USER arrived (and CAP END, if CAP was started). */
const welcoming =
  (extra: Script = () => {}): Script =>
  (line, s) => {
    const m = parseMessage(line);
    extra(line, s);
    if (m?.command === 'USER') s.send(':srv 001 me :Welcome to the Internet Relay Network me!~u@host.example');
  };

describe('IRC client (scripted server)', function () {
  this.timeout(10_000);
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    for (const s of servers.splice(0)) await new Promise<void>((r) => s.close(() => r()));
  });

  it('negotiates CAP LS 302 and authenticates with SASL PLAIN before CAP END (IRCv3 sasl-3.1)', async () => {
    const f = await fake((line, s) => {
      if (line === 'CAP LS 302') {
        s.send(':srv CAP * LS * :multi-prefix away-notify');
        s.send(':srv CAP * LS :sasl=EXTERNAL,PLAIN');
      } else if (line === 'CAP REQ sasl') s.send(':srv CAP * ACK :sasl');
      else if (line === 'AUTHENTICATE PLAIN') s.send('AUTHENTICATE +');
      else if (line.startsWith('AUTHENTICATE ')) {
        s.send(':srv 900 me me!u@h acct :You are now logged in');
        s.send(':srv 903 me :SASL authentication successful');
      } else if (line === 'CAP END') s.send(':srv 001 me :Welcome me!~u@h');
    });
    const c = client(f, { password: 'pässword', account: 'acct' });
    assert.equal(await c.connect(), 'me');
    const auth = f.lines.find((l) => l.startsWith('AUTHENTICATE ') && l !== 'AUTHENTICATE PLAIN');
    assert.equal(Buffer.from(auth!.slice(13), 'base64').toString('utf8'), '\0acct\0pässword');
    const order = ['CAP LS 302', 'CAP REQ sasl', 'NICK me', 'AUTHENTICATE PLAIN', 'CAP END'].map((l) =>
      f.lines.indexOf(l),
    );
    assert.deepEqual(
      [...order].sort((a, b) => a - b),
      order,
      f.lines.join(' | '),
    );
    assert.ok(!f.lines.some((l) => l.startsWith('PASS')), 'the password is not sent as PASS');
  });

  it('fails for good when SASL fails (904)', async () => {
    const f = await fake((line, s) => {
      if (line === 'CAP LS 302') s.send(':srv CAP * LS :sasl');
      else if (line === 'CAP REQ sasl') s.send(':srv CAP * ACK :sasl');
      else if (line === 'AUTHENTICATE PLAIN') s.send('AUTHENTICATE +');
      else if (line.startsWith('AUTHENTICATE ')) s.send(':srv 904 me :SASL authentication failed');
    });
    const err = await client(f, { password: 'bad' })
      .connect()
      .then(
        () => null,
        (e: unknown) => e,
      );
    assert.ok(err instanceof IrcLoginError && err.permanent && err.reason === 'auth', String(err));
  });

  it('registers the RFC 2812 way when CAP is unknown (421), sending the password as PASS first', async () => {
    const f = await fake(
      welcoming((line, s) => {
        if (line === 'CAP LS 302') s.send(':srv 421 * CAP :Unknown command');
      }),
    );
    await client(f, { password: 'pw' }).connect();
    assert.deepEqual(f.lines.slice(0, 4), ['CAP LS 302', 'PASS pw', 'NICK me', 'USER switchboard 0 * me']);
    assert.ok(!f.lines.includes('CAP END'));
  });

  it('registers after a while when the server ignores CAP altogether', async () => {
    const f = await fake(welcoming());
    const started = Date.now();
    await client(f).connect();
    assert.ok(Date.now() - started >= 250);
  });

  it('appends "_" on nick collisions (433), bounded', async () => {
    const f = await fake((line, s) => {
      const m = parseMessage(line);
      if (m?.command === 'NICK' && m.params[0] !== 'me__') s.send(`:srv 433 * ${m.params[0]} :Nickname already in use`);
      if (m?.command === 'NICK' && m.params[0] === 'me__') s.send(':srv 001 me__ :Welcome me__!u@h');
    });
    assert.equal(await client(f).connect(), 'me__');
    const g = await fake((line, s) => {
      const m = parseMessage(line);
      if (m?.command === 'NICK') s.send(`:srv 433 * ${m.params[0]} :Nickname already in use`);
    });
    const err = await client(g, { maxNickRetries: 2 })
      .connect()
      .catch((e: unknown) => e);
    assert.ok(err instanceof IrcLoginError && !err.permanent && err.reason === 'nick', String(err));
    assert.deepEqual(
      g.lines.filter((l) => l.startsWith('NICK')),
      ['NICK me', 'NICK me_', 'NICK me__'],
    );
  });

  it('rejects promptly when aborted, and when the server closes the link (ERROR)', async () => {
    const f = await fake(() => {});
    const ac = new AbortController();
    const p = client(f).connect(ac.signal);
    ac.abort(new Error('stop'));
    await assert.rejects(p, /stop/);
    const g = await fake((line, s) => {
      if (line.startsWith('USER')) s.send('ERROR :Closing Link: banned');
    });
    await assert.rejects(client(g).connect(), /Closing Link/);
  });

  it('answers PING at once, even behind a paced backlog, and paces other lines (RFC 1459 §8.10)', async () => {
    const f = await fake(welcoming());
    const c = client(f, { flood: { burst: 3, perSecond: 10 } });
    await c.connect();
    const sent = Array.from({ length: 13 }, (_, i) => c.send('PRIVMSG', '#c', `line ${i}`));
    f.send('PING :token123');
    await f.waitLine((l) => l === 'PONG token123');
    await Promise.all(sent);
    await f.waitLine((l) => l === 'PRIVMSG #c :line 12');
    const pongAt = f.lines.indexOf('PONG token123');
    assert.ok(pongAt < f.lines.indexOf('PRIVMSG #c :line 12'), 'the PONG did not wait for the backlog');
    const stamps = f.lines.map((l, i) => (l.startsWith('PRIVMSG') ? f.stamps[i]! : -1)).filter((t) => t >= 0);
    assert.equal(stamps.length, 13);
    assert.ok(stamps[12]! - stamps[0]! >= 900, `13 lines at 3 burst + 10/s take ~1 s (${stamps[12]! - stamps[0]!})`);
    const bodies = f.lines.filter((l) => l.startsWith('PRIVMSG')).map((l) => l.slice('PRIVMSG #c :'.length));
    assert.deepEqual(
      bodies,
      Array.from({ length: 13 }, (_, i) => `line ${i}`),
    );
  });

  it('drops over-long server lines (10 KB) whole and keeps going; decodes invalid UTF-8 as latin1', async () => {
    const f = await fake(welcoming());
    const c = client(f);
    let dropped = 0;
    c.on('dropped', (n) => {
      dropped += n;
    });
    const texts: string[] = [];
    c.on('privmsg', (e) => texts.push(e.text));
    await c.connect();
    f.send(`:a!u@h PRIVMSG me :${'x'.repeat(10_240)}`);
    f.send(Buffer.from(`:a!u@h PRIVMSG me :${'y'.repeat(5000)}`)); // no line end yet
    f.send(Buffer.from(`${'y'.repeat(5000)}\r\n`));
    f.send(Buffer.concat([Buffer.from(':a!u@h PRIVMSG me :caf'), Buffer.from([0xe9, 0x0d, 0x0a])]));
    f.send(':a!u@h PRIVMSG me :ok');
    const deadline = Date.now() + 3000;
    while (!texts.includes('ok') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(texts, ['café', 'ok']);
    assert.equal(dropped, 2);
  });

  it('closes with a ping timeout when the server goes silent', async () => {
    const f = await fake(welcoming());
    const c = client(f, { keepaliveMs: 300 });
    await c.connect();
    const reason = await new Promise<string>((r) => c.once('close', r));
    assert.match(reason, /ping timeout/);
    assert.ok(f.lines.some((l) => l.startsWith('PING switchboard-')));
  });

  it('refuses to send CR/LF (command injection) and splits long text to fit what receivers get', async () => {
    const f = await fake(welcoming());
    const c = client(f, { flood: { burst: 50, perSecond: 50 } });
    await c.connect();
    assert.throws(() => c.send('PRIVMSG', 'bob', 'hi\r\nQUIT :pwned'), IrcCodecError);
    const text = Array.from({ length: 300 }, (_, i) => `w${i}`).join(' ');
    await c.say('#chan', text);
    await f.waitLine((l) => l.endsWith(' w299'));
    const lines = f.lines.filter((l) => l.startsWith('PRIVMSG #chan :'));
    assert.ok(lines.length >= 3);
    // The receiver sees ":me!~u@host.example " in front: the whole relayed line stays within 512 bytes.
    for (const l of lines) assert.ok(Buffer.byteLength(`:me!~u@host.example ${l}\r\n`) <= 512, l);
    assert.equal(lines.map((l) => l.slice('PRIVMSG #chan :'.length)).join(' '), text);
  });
});
