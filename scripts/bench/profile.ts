// Summarises a V8 .cpuprofile (node --cpu-prof): self time per function and per area of the code base.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  name: string;
  where: string;
  selfMs: number;
  /** Share of the busy (non-idle) time, in percent. */
  pct: number;
}

export interface ProfileSummary {
  file: string;
  /** Only samples inside this window (monotonic clock, µs) were counted, when given. */
  windowMs?: number;
  totalMs: number;
  idleMs: number;
  top: ProfileEntry[];
  areas: { area: string; selfMs: number; pct: number }[];
}

/** The newest .cpuprofile in a directory. */
export function newestProfile(dir: string): string | undefined {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  files.sort((a, b) => statSync(join(dir, b)).mtimeMs - statSync(join(dir, a)).mtimeMs);
  return files[0] === undefined ? undefined : join(dir, files[0]);
}

const BUILD_DIR = '.tmp/bench-build/';

function shortUrl(url: string, root: string): string {
  let u = url.replace(/^file:\/\//, '');
  if (u.startsWith(root)) u = u.slice(root.length + 1);
  // The server runs from its tsc output (servers/switchboard.ts): paths as in the tree, compiled line numbers.
  if (u.startsWith(BUILD_DIR)) u = u.slice(BUILD_DIR.length);
  const nm = u.lastIndexOf('node_modules/');
  return nm >= 0 ? u.slice(nm + 'node_modules/'.length) : u;
}

/** Coarse area: our own folders, a dependency by package, or Node's internals by subsystem. */
export function areaOf(frame: CallFrame, root: string): string {
  const { url, functionName } = frame;
  if (!url) {
    if (functionName === '(garbage collector)') return 'V8 garbage collector';
    if (functionName === '(program)') return 'V8/native (program)';
    return `native ${functionName || '(anonymous)'}`;
  }
  const u = shortUrl(url, root);
  if (url.includes('node_modules/'))
    return `dependency ${u.split('/')[0]?.startsWith('@') ? u.split('/').slice(0, 2).join('/') : u.split('/')[0]}`;
  if (u.startsWith('node:internal/')) {
    const rest = u.slice('node:internal/'.length);
    return `node ${rest.startsWith('streams/') ? 'streams' : (rest.split('/')[0] ?? rest).replace(/\.js$/, '')}`;
  }
  if (u.startsWith('node:')) return `node ${u.slice(5)}`;
  const parts = u.split('/');
  if (parts[0] === 'server' || parts[0] === 'storage') return parts.slice(0, parts[1] === 'modules' ? 3 : 2).join('/');
  return parts[0] ?? u;
}

/**
 * `window` (µs on the monotonic clock, which V8's profile timestamps and process.hrtime share on Linux) limits
 * the summary to one phase, e.g. the measured message window rather than start-up and logins.
 */
export function summarizeProfile(
  file: string,
  root: string,
  window?: { fromUs: number; toUs: number },
  topN = 25,
): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n] as const));
  const selfUs = new Map<number, number>();
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number;
    t += profile.timeDeltas[i] ?? 0;
    if (window && (t < window.fromUs || t > window.toUs)) continue;
    // V8 records the delta before each sample; the next delta is the time the sample stood for.
    const dt = profile.timeDeltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dt));
  }
  const fns = new Map<string, { name: string; where: string; us: number }>();
  const areas = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    total += us;
    const f = node.callFrame;
    if (f.functionName === '(idle)') {
      idle += us;
      continue;
    }
    const where = f.url ? `${shortUrl(f.url, root)}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName}|${where}`;
    const entry = fns.get(key) ?? { name: f.functionName || '(anonymous)', where, us: 0 };
    entry.us += us;
    fns.set(key, entry);
    const area = areaOf(f, root);
    areas.set(area, (areas.get(area) ?? 0) + us);
  }
  const busy = Math.max(1, total - idle);
  const top = [...fns.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, topN)
    .map((e) => ({ name: e.name, where: e.where, selfMs: e.us / 1000, pct: (100 * e.us) / busy }));
  const areaList = [...areas.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([area, us]) => ({ area, selfMs: us / 1000, pct: (100 * us) / busy }));
  return {
    file,
    ...(window ? { windowMs: (window.toUs - window.fromUs) / 1000 } : {}),
    totalMs: total / 1000,
    idleMs: idle / 1000,
    top,
    areas: areaList,
  };
}
