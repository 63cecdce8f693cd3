// Command line and scale of `npm run bench`.
import { parseArgs } from 'node:util';

export const SCENARIOS = ['login', 'idle', 'messages', 'presence', 'muc'] as const;
export type Scenario = (typeof SCENARIOS)[number];
export const SERVERS = ['switchboard', 'prosody', 'ejabberd', 'relay'] as const;
export type ServerName = (typeof SERVERS)[number];

export interface Scale {
  runs: number;
  loginUsers: number;
  loginConcurrency: number;
  /** Session counts at which idle memory is read, in increasing order. */
  idleSteps: number[];
  /** Load generator processes for the idle scenario (each process may hold at most ~19,000 sockets). */
  idleProcs: number;
  pairs: number;
  window: number;
  warmupMs: number;
  measureMs: number;
  latencyMs: number;
  /**
   * Latency at equal load (messages/s) when no competitor's peak is measured in the same run (only Switchboard or
   * the relay selected); otherwise the common rate is 50% of the better peak of Prosody and ejabberd.
   */
  commonRate: number;
  /**
   * --rates: instead of the peak and the latency runs at half of it and at the common rate, latency at each of these
   * rates (messages/s), to see where it rises and why (the generator's and the server's share are reported).
   */
  sweepRates?: number[];
  presenceUsers: number;
  contacts: number;
}

const FULL: Scale = {
  runs: 3,
  loginUsers: 2000,
  loginConcurrency: 50,
  // 50,000 sessions cannot be held: every process may open at most 20,000 files, and each session is one
  // socket in the server. 18,000 is the largest round figure that leaves the server room for its own files.
  idleSteps: [10_000, 18_000],
  idleProcs: 2,
  pairs: 500,
  window: 10,
  warmupMs: 2000,
  measureMs: 10_000,
  latencyMs: 10_000,
  commonRate: 1000,
  presenceUsers: 1000,
  contacts: 100,
};

const QUICK: Scale = {
  runs: 1,
  loginUsers: 300,
  loginConcurrency: 50,
  idleSteps: [1000],
  idleProcs: 1,
  pairs: 100,
  window: 10,
  warmupMs: 1000,
  measureMs: 3000,
  latencyMs: 3000,
  commonRate: 1000,
  presenceUsers: 200,
  contacts: 20,
};

export interface BenchOptions {
  quick: boolean;
  only: Set<Scenario>;
  servers: ServerName[];
  scale: Scale;
  profile: boolean;
  /** Write docs/benchmarks.md and docs/benchmarks.json (default for a full run, off for --quick). */
  write: boolean;
  keep: boolean;
  /** Autogroup nice value of the bench's own session (see session.ts); 0 leaves it alone. */
  priority: number;
  argv: string[];
}

const USAGE = `usage: npm run bench -- [--quick] [--only login,idle,messages,presence] [--servers switchboard,prosody,ejabberd,relay]
                        [--runs N] [--rates R1,R2,… (messages: latency at these rates only)]
                        [--no-profile] [--write | --no-write] [--keep] [--priority -20..0]`;

function list<T extends string>(value: string | undefined, allowed: readonly T[], what: string): T[] | undefined {
  if (value === undefined) return undefined;
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const item of items) if (!allowed.includes(item as T)) throw new Error(`unknown ${what} "${item}"\n${USAGE}`);
  return items as T[];
}

export function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      servers: { type: 'string' },
      runs: { type: 'string' },
      rates: { type: 'string' },
      'no-profile': { type: 'boolean', default: false },
      write: { type: 'boolean' },
      'no-write': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      priority: { type: 'string', default: '-10' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) throw new Error(USAGE);
  const quick = values.quick === true;
  const scale = { ...(quick ? QUICK : FULL) };
  if (values.runs !== undefined) {
    const n = Number(values.runs);
    if (!Number.isInteger(n) || n < 1 || n > 9) throw new Error(`--runs must be 1..9\n${USAGE}`);
    scale.runs = n;
  }
  if (values.rates !== undefined) {
    const rates = values.rates.split(',').map((r) => Number(r.trim()));
    if (rates.length === 0 || rates.some((r) => !Number.isInteger(r) || r < 1))
      throw new Error(`--rates takes whole messages per second, e.g. 5000,10000\n${USAGE}`);
    scale.sweepRates = rates;
  }
  const only = new Set<Scenario>(list(values.only, SCENARIOS, 'scenario') ?? SCENARIOS);
  const servers = list(values.servers, SERVERS, 'server') ?? [...SERVERS];
  const priority = Number(values.priority);
  if (!Number.isInteger(priority) || priority < -20 || priority > 0)
    throw new Error(`--priority must be -20..0\n${USAGE}`);
  const write = values['no-write'] ? false : (values.write ?? (!quick && values.rates === undefined));
  return {
    quick,
    only,
    servers,
    scale,
    profile: !values['no-profile'],
    write,
    keep: values.keep === true,
    priority,
    argv,
  };
}
