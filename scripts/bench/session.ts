// CPU share for the benchmark on a shared machine. Linux groups processes by session ("autogroup") and shares
// CPU between groups before nice values count, so `nice` alone changes nothing against other sessions' work.
// The bench therefore runs in a session of its own (setsid) and raises that session's autogroup priority, which
// covers the servers and load generators it starts and nothing else. Other sessions keep running, slower.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const AUTOGROUP = '/proc/self/autogroup';

function isSessionLeader(): boolean {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[3]) === process.pid;
}

/**
 * Re-runs this script under setsid unless it already leads its own session; resolves with its exit code if it did
 * (null: go on here). Ctrl-C reaches only this process, the terminal's session: it is passed on to the bench,
 * which stops its servers before it exits.
 */
export function runInOwnSession(): Promise<number | null> {
  if (process.env.SB_BENCH_SESSION === '1' || isSessionLeader()) return Promise.resolve(null);
  const child = spawn('setsid', ['-w', process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, SB_BENCH_SESSION: '1' },
  });
  const forward = (signal: NodeJS.Signals): void => {
    child.kill(signal);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  return new Promise((resolve) => {
    child.on('exit', (code) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code ?? 1);
    });
  });
}

/** Sets this session's autogroup nice value; returns a description for the report. */
export function raiseSessionPriority(nice: number): string {
  if (nice === 0) return 'autogroup nice 0 (not raised)';
  try {
    writeFileSync(AUTOGROUP, String(nice));
    return `own session, autogroup nice ${nice}`;
  } catch (err) {
    return `autogroup priority not raised (${err instanceof Error ? err.message : String(err)})`;
  }
}
