import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LoadGen } from './loadgen-client.js';
import { newestProfile, summarizeProfile } from './profile.js';
import { targetOf } from './scenarios.js';
import { makeCertificate, makeUsers } from './servers/common.js';
import { switchboardLauncher } from './servers/switchboard.js';
import { raiseSessionPriority, runInOwnSession } from './session.js';

const code = runInOwnSession();
if (code === null) {
  raiseSessionPriority(-10);
  const dir = mkdtempSync(join(tmpdir(), 'sb-prof-'));
  const tlsf = makeCertificate(dir);
  const users = makeUsers(2000, 200, 20);
  const l = switchboardLauncher({ repo: process.cwd(), dir, cert: tlsf.cert, key: tlsf.key });
  await l.prepare(users);
  const s = await l.start({ cpuProfDir: join(dir, 'prof') });
  const lg = await LoadGen.start(process.cwd());
  const what = process.argv[2] ?? 'login';
  let from = 0n;
  let to = 0n;
  if (what === 'login') {
    await lg.send({
      cmd: 'login',
      target: targetOf(s, users),
      users: users.general,
      firstIndex: 0,
      concurrency: 50,
      presence: true,
    });
    await lg.send({ cmd: 'close' });
    from = process.hrtime.bigint();
    const c0 = s.cpuMs();
    const r: any = await lg.send({
      cmd: 'login',
      target: targetOf(s, users),
      users: users.general,
      firstIndex: 0,
      concurrency: 50,
      presence: true,
    });
    to = process.hrtime.bigint();
    console.log('login/s', r.perSec.toFixed(0), 'cpu ms/login', ((s.cpuMs() - c0) / r.ok).toFixed(2));
  } else {
    const r: any = await lg.send({
      cmd: 'login',
      target: targetOf(s, users),
      users: users.presence,
      firstIndex: 0,
      concurrency: 50,
      presence: true,
      expectPresence: 200 * 20,
    });
    from = process.hrtime.bigint();
    const c0 = s.cpuMs();
    const c: any = await lg.send({ cmd: 'presence-change', expected: 200 * 20, timeoutMs: 30000 });
    to = process.hrtime.bigint();
    console.log('presence login', r.presence, 'change', c, 'cpu', s.cpuMs() - c0);
  }
  await lg.send({ cmd: 'close' });
  await lg.exit();
  await s.stop();
  const p = summarizeProfile(
    newestProfile(join(dir, 'prof'))!,
    process.cwd(),
    { fromUs: Number(from / 1000n), toUs: Number(to / 1000n) },
    40,
  );
  console.log(p.totalMs.toFixed(0), p.idleMs.toFixed(0));
  for (const a of p.areas.slice(0, 15)) console.log(a.pct.toFixed(1), a.area);
  for (const e of p.top) console.log(e.pct.toFixed(1), e.name, e.where);
  console.log(dir);
} else process.exitCode = code;
