// The load generator process. The bench harness starts it pinned to core 0 (taskset -c 0) and drives it over
// the Node IPC channel, one command at a time; it holds the connections between commands.
import { performance } from 'node:perf_hooks';
import type { Conn, Target } from './load/conn.js';
import { latency, throughput } from './load/messages.js';
import { closeAll, loginMany } from './load/pool.js';
import { PresenceCounter, presenceChange } from './load/presence.js';

export type LoadCommand =
  | {
      cmd: 'login';
      target: Target;
      users: string[];
      firstIndex: number;
      concurrency: number;
      presence: boolean;
      /** Count the contacts' presence arriving during login and wait until this many have (0: do not count). */
      expectPresence?: number;
    }
  | { cmd: 'throughput'; pairs: number; window: number; warmupMs: number; measureMs: number }
  | { cmd: 'latency'; pairs: number; rate: number; warmupMs: number; durationMs: number }
  | { cmd: 'presence-change'; expected: number; timeoutMs: number }
  | { cmd: 'close' }
  | { cmd: 'exit' };

export interface LoginReply {
  ok: number;
  failed: number;
  errors: string[];
  elapsedMs: number;
  perSec: number;
  tlsProtocol: string;
  loadgenCpu: number;
  presence?: { delivered: number; raw: number; expected: number; complete: boolean; elapsedMs: number };
}

const held: Conn[] = [];

async function login(c: Extract<LoadCommand, { cmd: 'login' }>): Promise<LoginReply> {
  const counter = c.expectPresence ? new PresenceCounter(c.expectPresence, null) : null;
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  const out = await loginMany(c.target, c.users, c.firstIndex, {
    concurrency: c.concurrency,
    presence: c.presence,
    resource: 'bench',
    ...(counter ? { onStanza: counter.handler } : {}),
  });
  const cpu = process.cpuUsage(cpu0);
  held.push(...out.conns);
  const reply: LoginReply = {
    ok: out.conns.length,
    failed: out.failed,
    errors: out.errors,
    elapsedMs: out.elapsedMs,
    perSec: out.conns.length / (out.elapsedMs / 1000),
    tlsProtocol: out.tlsProtocol,
    loadgenCpu: (cpu.user + cpu.system) / 1000 / out.elapsedMs,
  };
  if (counter) {
    const complete = await counter.wait(120_000);
    reply.presence = {
      delivered: counter.distinct,
      raw: counter.raw,
      expected: counter.expected,
      complete,
      elapsedMs: (complete ? counter.doneAt : performance.now()) - started,
    };
    for (const conn of out.conns) conn.onStanza = null;
  }
  return reply;
}

async function run(c: LoadCommand): Promise<unknown> {
  switch (c.cmd) {
    case 'login':
      return login(c);
    case 'throughput':
      return throughput(held, c);
    case 'latency':
      return latency(held, c);
    case 'presence-change':
      return presenceChange(held, c.expected, c.timeoutMs);
    case 'close': {
      const n = held.length;
      await closeAll(held.splice(0));
      return { closed: n };
    }
    case 'exit':
      setImmediate(() => process.exit(0));
      return { bye: true };
  }
}

let chain: Promise<void> = Promise.resolve();
process.on('message', (msg: { id: number; command: LoadCommand }) => {
  chain = chain.then(async () => {
    try {
      const result = await run(msg.command);
      process.send?.({ id: msg.id, ok: true, result });
    } catch (err) {
      process.send?.({ id: msg.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    }
  });
});
process.on('disconnect', () => process.exit(0));
process.send?.({ id: 0, ok: true, result: 'ready' });
