// CPU share for the benchmark on a shared machine. Linux groups processes by session ("autogroup") and shares
// CPU between groups before nice values count, so `nice` alone changes nothing against other sessions' work.
// The bench therefore runs in a session of its own (setsid) and raises that session's autogroup priority, which
// covers the servers and load generators it starts and nothing else. Other sessions keep running, slower.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const AUTOGROUP = '/proc/self/autogroup';

function isSessionLeader(): boolean {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[3]) === process.pid;
}

/** Re-runs this script under setsid unless it already leads its own session; returns the exit code if it did. */
export function runInOwnSession(): number | null {
  if (process.env.SB_BENCH_SESSION === '1' || isSessionLeader()) return null;
  const r = spawnSync('setsid', ['-w', process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, SB_BENCH_SESSION: '1' },
  });
  return r.status ?? 1;
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
