// An in-memory "legacy network" and its gateway driver, used only by the framework's own tests (not shipped in
// gateways/registry.ts). Addresses look like `name@net` so that every JID built from them needs XEP-0106 escaping.
import { type Static, Type } from '@sinclair/typebox';
import {
  type AddressCodec,
  defineDriver,
  type GatewayDriver,
  LegacyError,
  type LegacyId,
  type LegacyMessage,
  type LegacyPresence,
  type LegacySession,
  RegistrationError,
  type UpstreamSink,
} from '../../gateways/core/driver.js';
import type { LegacyPeer, PeerMessage } from '../../gateways/testkit/peer.js';

export interface LoopbackCred {
  username: string;
  password: string;
  server: string;
}

export interface Sent {
  from: LegacyId;
  to: LegacyId;
  body: string;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason);
      },
      { once: true },
    );
  });

/** The legacy network: accounts, online sessions, what was sent, and knobs to make it misbehave. */
export class LoopbackNetwork {
  readonly accounts = new Map<string, string>();
  /** Legacy id → the sink of the session logged in as that id. */
  readonly online = new Map<LegacyId, UpstreamSink>();
  readonly sent: Sent[] = [];
  /** Time of every login attempt, for the backoff checks. */
  readonly attempts: number[] = [];
  /** While true, logins fail with a transient error. */
  down = false;
  loginDelayMs = 5;
  /** Upper bound of the random delay of each sendMessage(), so that only a queue keeps messages in order. */
  sendJitterMs = 15;
  logouts = 0;
  private waiters: (() => void)[] = [];

  record(s: Sent): void {
    this.sent.push(s);
    for (const w of this.waiters.splice(0)) w();
  }

  /** Waits until `n` messages were sent to `to`, then returns them in arrival order. */
  async sentTo(to: LegacyId, n: number, timeoutMs = 5000): Promise<Sent[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = this.sent.filter((s) => s.to === to);
      if (got.length >= n) return got;
      if (Date.now() > deadline) throw new Error(`only ${got.length} of ${n} messages reached ${to}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** A message from a legacy user to a logged-in one. */
  deliver(from: LegacyId, to: LegacyId, body: string): void {
    const sink = this.online.get(to);
    if (!sink) throw new Error(`${to} is not online`);
    sink.message(from, { body });
  }

  presence(from: LegacyId, to: LegacyId, p: LegacyPresence): void {
    this.online.get(to)?.presence(from, p);
  }

  askSubscription(from: LegacyId, to: LegacyId, nick?: string): void {
    this.online.get(to)?.subscriptionRequest(from, nick);
  }

  /** The connection of `id` breaks: the driver reports it, as a real one would on a socket error. */
  drop(id: LegacyId, reason = 'connection reset by peer'): void {
    const sink = this.online.get(id);
    this.online.delete(id);
    sink?.state('offline', reason);
  }
}

/** XEP-0106-heavy addresses: the localpart is the address itself, escaped by the framework. */
const codec: AddressCodec = {
  description: 'Enter the loopback address of the contact (name@network).',
  prompt: 'Loopback address',
  parse(input) {
    const id = input.trim().toLowerCase();
    const at = id.lastIndexOf('@');
    if (at <= 0 || at === id.length - 1 || id.endsWith(' ') || /\s@|@\s/.test(id)) return null;
    return id;
  },
  toLocal: (id) => id,
  fromLocal: (local) => (local.includes('@') ? local : null),
};

export const LoopbackOptions = Type.Object(
  { network_name: Type.String({ default: 'loop.example' }) },
  { additionalProperties: false },
);

class LoopbackSession implements LegacySession {
  constructor(
    private readonly net: LoopbackNetwork,
    readonly id: LegacyId,
  ) {}
  presences: LegacyPresence[] = [];
  subscribed: LegacyId[] = [];
  async sendMessage(to: LegacyId, m: LegacyMessage): Promise<void> {
    if (this.net.online.get(this.id) === undefined) throw new LegacyError('not connected', 'recipient-unavailable');
    // A random delay: without the framework's per-peer queue, messages would overtake each other.
    await sleep(Math.random() * this.net.sendJitterMs);
    if (to.startsWith('nobody@')) throw new LegacyError(`${to} does not exist`, 'item-not-found');
    this.net.record({ from: this.id, to, body: m.body });
  }
  async setPresence(p: LegacyPresence): Promise<void> {
    this.presences.push(p);
  }
  async subscribe(id: LegacyId): Promise<void> {
    this.subscribed.push(id);
  }
  async logout(): Promise<void> {
    this.net.logouts++;
    this.net.online.delete(this.id);
  }
}

export function loopbackDriver(net: LoopbackNetwork): GatewayDriver<LoopbackCred> {
  return {
    kind: 'loopback',
    name: 'Loopback gateway',
    registration: [
      { var: 'username', type: 'text-single', label: 'Username', required: true },
      { var: 'password', type: 'text-private', label: 'Password', required: true },
      {
        var: 'server',
        type: 'list-single',
        label: 'Network',
        default: 'loop.example',
        options: [
          { label: 'Loop', value: 'loop.example' },
          { label: 'Other', value: 'other.example' },
        ],
      },
    ],
    address: codec,
    async validateRegistration(form) {
      const username = form.username ?? '';
      if (!/^[a-z0-9._-]+$/.test(username)) throw new RegistrationError('username: lowercase letters and digits only');
      if (!form.password) throw new RegistrationError('a password is required');
      return { username, password: form.password, server: form.server ?? 'loop.example' };
    },
    async login(_user, cred, up, signal) {
      net.attempts.push(Date.now());
      await sleep(net.loginDelayMs, signal);
      if (net.down) throw new LegacyError('network unreachable', 'remote-server-not-found');
      if (net.accounts.get(cred.username) !== cred.password) {
        throw new LegacyError('wrong password', 'not-authorized', true);
      }
      const id = `${cred.username}@${cred.server}`;
      net.online.set(id, up);
      return new LoopbackSession(net, id);
    },
  };
}

export const loopbackDefinition = (net: LoopbackNetwork) =>
  defineDriver({
    name: 'loopback',
    options: LoopbackOptions,
    create: (_ctx: { options: Readonly<Static<typeof LoopbackOptions>> }) => loopbackDriver(net),
  });

/** The conformance suite's peer on the loopback network. */
export class LoopbackPeer implements LegacyPeer {
  readonly id = 'peer@loop.example';
  private n = 0;
  constructor(readonly net: LoopbackNetwork) {}
  readonly invalidForms: Record<string, string>[] = [{ username: 'Not Valid!', password: 'x' }, { username: 'ok' }];
  readonly sampleIds = [
    'alice@loop.example',
    "o'hara@loop.example",
    'john doe@loop.example',
    'a/b:c@loop.example',
    'x&y<z>"q"@loop.example',
    'back\\5cslash@loop.example',
    'c:\\net@loop.example',
  ];
  readonly invalidAddresses = ['', '   ', 'noat', '@loop.example', 'trailing@', 'x @loop.example'];
  async start(): Promise<boolean> {
    return true;
  }
  async stop(): Promise<void> {}
  validForm(): Record<string, string> {
    const username = `conf${++this.n}`;
    this.net.accounts.set(username, 'pw');
    return { username, password: 'pw', server: 'loop.example' };
  }
  async send(form: Record<string, string>, body: string): Promise<void> {
    this.net.deliver(this.id, `${form.username}@${form.server}`, body);
  }
  private read = 0;
  async receive(timeoutMs: number): Promise<PeerMessage> {
    const all = await this.net.sentTo(this.id, this.read + 1, timeoutMs);
    const m = all[this.read++]!;
    return { from: m.from, body: m.body };
  }
  async setPresence(p: LegacyPresence): Promise<void> {
    for (const to of this.net.online.keys()) this.net.presence(this.id, to, p);
  }
}
