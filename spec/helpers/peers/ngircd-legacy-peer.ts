// The gateway conformance suite's legacy peer for the IRC driver (gateways/testkit/peer.ts): a private ngircd and a
// raw IRC user on it that the suite talks to through the driver.
import { randomBytes } from 'node:crypto';
import type { LegacyId } from '../../../gateways/core/driver.js';
import type { LegacyPeer, PeerMessage } from '../../../gateways/testkit/conformance.js';
import { IrcClient, type NgircdOptions, type NgircdPeer, ngircdMissing, startNgircd } from './ngircd.js';

/** The IRC server's name in addresses (`nick%irc.test`). */
export const IRC_SERVER_NAME = 'irc.test';

/** A nick unique to this run (ngircd is configured with MaxNickLength 30). */
export const uniqueNick = (prefix: string) => `${prefix}${randomBytes(3).toString('hex')}`;

export class NgircdLegacyPeer implements LegacyPeer {
  server: NgircdPeer | undefined;
  private user: IrcClient | undefined;
  private cursor = 0;
  readonly nick = uniqueNick('peer');
  readonly loginTimeoutMs = 10_000;

  constructor(private readonly opts: NgircdOptions = { maxNickLength: 30, noPenalty: true }) {}

  get id(): LegacyId {
    return `${this.nick}%${IRC_SERVER_NAME}`;
  }

  /** Driver options for this ngircd (plain TCP on loopback). */
  driverOptions(extra: Record<string, unknown> = {}): Record<string, unknown> {
    if (!this.server) throw new Error('ngircd is not running');
    return {
      servers: { [IRC_SERVER_NAME]: { host: '127.0.0.1', port: this.server.port, tls: false } },
      flood_burst: 10,
      flood_lines_per_second: 20,
      presence_poll_seconds: 1,
      ...extra,
    };
  }

  async start(): Promise<boolean> {
    const missing = ngircdMissing();
    if (missing) {
      console.log(`      skipped: ${missing}`);
      return false;
    }
    this.server = await startNgircd(IRC_SERVER_NAME, this.opts);
    this.user = await IrcClient.connect(this.server.port, this.nick);
    return true;
  }

  async stop(): Promise<void> {
    await this.user?.quit();
    await this.server?.cleanup();
  }

  validForm(): Record<string, string> {
    return { nick: uniqueNick('conf'), server: IRC_SERVER_NAME };
  }

  readonly invalidForms: readonly Record<string, string>[] = [
    { nick: '1digitfirst', server: IRC_SERVER_NAME },
    { nick: 'has space', server: IRC_SERVER_NAME },
    { nick: 'x'.repeat(31), server: IRC_SERVER_NAME },
    { nick: 'fine', server: 'not.configured.example' },
    { nick: 'fine', server: IRC_SERVER_NAME, password: 'line\r\nbreak' },
  ];

  readonly sampleIds: readonly LegacyId[] = [
    `alice%${IRC_SERVER_NAME}`,
    `[Bot]|away^%${IRC_SERVER_NAME}`,
    `back\\slash\`{}%${IRC_SERVER_NAME}`,
    `#chan%${IRC_SERVER_NAME}`,
    `&local%${IRC_SERVER_NAME}`,
    `#100%off%${IRC_SERVER_NAME}`,
    `#it's@a/b"c&d<e>f\\5cg%${IRC_SERVER_NAME}`,
  ];

  readonly invalidAddresses: readonly string[] = [
    '',
    'alice',
    'alice%',
    `%${IRC_SERVER_NAME}`,
    'alice%not.configured.example',
    `#%${IRC_SERVER_NAME}`,
    `a b%${IRC_SERVER_NAME}`,
    `#a,b%${IRC_SERVER_NAME}`,
    `1alice%${IRC_SERVER_NAME}`,
  ];

  async send(form: Record<string, string>, body: string): Promise<void> {
    this.user?.privmsg(form.nick ?? '', body);
  }

  async receive(timeoutMs: number): Promise<PeerMessage> {
    const user = this.user;
    if (!user) throw new Error('peer not started');
    const line = await user.waitLine(
      (l) => l.command === 'PRIVMSG' && l.params[0] === this.nick,
      'a private message',
      timeoutMs,
      this.cursor,
    );
    this.cursor = user.lines.indexOf(line) + 1;
    return { ...(line.nick ? { from: line.nick } : {}), body: line.params[1] ?? '' };
  }
}
