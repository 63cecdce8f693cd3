// Logs many connections in with bounded concurrency and keeps them.
import { performance } from 'node:perf_hooks';
import { Conn, type Target } from './conn.js';

export interface LoginOptions {
  concurrency: number;
  presence: boolean;
  resource: string;
  /** Installed before login, so stanzas that arrive while logging in are seen too. */
  onStanza?: (conn: Conn, xml: string) => void;
}

export interface LoginOutcome {
  conns: Conn[];
  failed: number;
  errors: string[];
  elapsedMs: number;
  tlsProtocol: string;
}

export async function loginMany(
  target: Target,
  users: string[],
  firstIndex: number,
  opts: LoginOptions,
): Promise<LoginOutcome> {
  const conns: Conn[] = [];
  const errors: string[] = [];
  let failed = 0;
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < users.length) {
      const i = next++;
      const conn = new Conn(target, users[i] as string, firstIndex + i);
      if (opts.onStanza) conn.onStanza = opts.onStanza;
      try {
        if (target.mode === 'relay') await conn.connectRelay();
        else await conn.login({ presence: opts.presence, resource: opts.resource });
        conns.push(conn);
      } catch (err) {
        failed++;
        if (errors.length < 5) errors.push(`${conn.user}: ${err instanceof Error ? err.message : String(err)}`);
        void conn.close();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency, users.length)) }, worker));
  conns.sort((a, b) => a.index - b.index);
  return { conns, failed, errors, elapsedMs: performance.now() - started, tlsProtocol: conns[0]?.tlsProtocol ?? '' };
}

/** Closes connections in batches so the server sees a steady stream of logouts rather than a storm. */
export async function closeAll(conns: Conn[], batch = 500): Promise<void> {
  for (let i = 0; i < conns.length; i += batch) {
    await Promise.all(conns.slice(i, i + batch).map((c) => c.close()));
  }
}
