// A private Kamailio 5.6 (Debian `kamailio`, `kamailio-presence-modules`) on loopback as SIP registrar, proxy and
// presence server for the SIP gateway's registration mode: registrar/usrloc in memory, auth_db and presence on a
// text:// database seeded from /usr/share/kamailio/dbtext/kamailio/ in its own directory (PEERS.md), core dumps off
// (`ulimit -c 0`) and that directory as working directory, stopped by PID.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tail } from './peer.js';
import { freePort, type SpawnedProcess, sleep, spawnLogged } from './system.js';

const KAMAILIO = '/usr/sbin/kamailio';
const MODULES = '/usr/lib/x86_64-linux-gnu/kamailio/modules';
const DBTEXT = '/usr/share/kamailio/dbtext/kamailio';

export function kamailioMissing(): string | undefined {
  const r = spawnSync(KAMAILIO, ['-v'], { encoding: 'utf8' });
  if (r.error || r.status !== 0)
    return `kamailio is not installed (apt-get install kamailio): ${KAMAILIO} does not run`;
  if (!existsSync(join(MODULES, 'presence.so'))) return 'kamailio-presence-modules is not installed';
  if (!existsSync(DBTEXT)) return `${DBTEXT} is missing`;
  return undefined;
}

export interface KamailioOptions {
  /** The SIP domain it serves (an alias): users are `sip:name@domain`. */
  domain: string;
  /** Subscribers (name → password) of the domain. */
  users: Record<string, string>;
  /** Digest algorithm of its challenges (auth module `algorithm`). */
  algorithm?: 'MD5' | 'SHA-256';
}

export interface KamailioPeer {
  readonly port: number;
  readonly domain: string;
  readonly dir: string;
  log(): string;
  running(): boolean;
  /** Stops the server by its PID; its directory and port stay for start(). */
  stop(): Promise<void>;
  start(): Promise<void>;
  cleanup(): Promise<void>;
}

function config(o: KamailioOptions, port: number, db: string): string {
  return `#!KAMAILIO
debug=2
log_stderror=yes
children=2
tcp_children=2
listen=udp:127.0.0.1:${port}
listen=tcp:127.0.0.1:${port}
alias="${o.domain}"
auto_aliases=no
mpath="${MODULES}/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "kex.so"
loadmodule "db_text.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
loadmodule "presence.so"
loadmodule "presence_xml.so"
modparam("usrloc", "db_mode", 0)
modparam("registrar", "min_expires", 1)
modparam("registrar", "default_expires", 60)
modparam("auth", "algorithm", "${o.algorithm ?? 'MD5'}")
modparam("auth_db", "db_url", "text://${db}")
modparam("auth_db", "calculate_ha1", yes)
modparam("auth_db", "password_column", "password")
modparam("auth_db", "load_credentials", "")
modparam("presence", "db_url", "text://${db}")
modparam("presence", "subs_db_mode", 0)
modparam("presence", "min_expires", 1)
modparam("presence_xml", "db_url", "text://${db}")
modparam("presence_xml", "force_active", 1)
modparam("presence_xml", "integrated_xcap_server", 1)

request_route {
  if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
  if (has_totag()) {
    if (loose_route()) { t_relay(); exit; }
    if (is_method("SUBSCRIBE") && uri == myself) { route(PRESENCE); exit; }
    if (is_method("ACK")) { if (t_check_trans()) t_relay(); exit; }
    if (!t_relay()) sl_reply_error();
    exit;
  }
  if (is_method("REGISTER")) {
    if (!auth_check("$fd", "subscriber", "1")) { auth_challenge("$fd", "0"); exit; }
    if (!save("location")) sl_reply_error();
    exit;
  }
  if (is_method("PUBLISH|SUBSCRIBE")) {
    if (is_method("PUBLISH") && !auth_check("$fd", "subscriber", "1")) { auth_challenge("$fd", "0"); exit; }
    route(PRESENCE);
    exit;
  }
  if (is_method("MESSAGE|OPTIONS")) {
    if (!lookup("location")) { sl_send_reply("404", "Not Found"); exit; }
    if (!t_relay()) sl_reply_error();
    exit;
  }
  sl_send_reply("405", "Method Not Allowed");
}

route[PRESENCE] {
  if (!t_newtran()) { sl_reply_error(); exit; }
  if (is_method("PUBLISH")) handle_publish();
  else handle_subscribe();
  t_release();
  exit;
}
`;
}

export async function startKamailio(o: KamailioOptions): Promise<KamailioPeer> {
  const dir = mkdtempSync(join(tmpdir(), 'sb-kamailio-'));
  const db = join(dir, 'db');
  mkdirSync(db);
  cpSync(DBTEXT, db, { recursive: true });
  // db_text refuses NULL ha1/ha1b; with calculate_ha1 they are not used, but are given their RFC 2617 values.
  const md5 = (s: string) => createHash('md5').update(s).digest('hex');
  for (const [name, pw] of Object.entries(o.users)) {
    const ha1 = md5(`${name}:${o.domain}:${pw}`);
    const ha1b = md5(`${name}@${o.domain}:${o.domain}:${pw}`);
    appendFileSync(join(db, 'subscriber'), `0:${name}:${o.domain}:${pw}:${ha1}:${ha1b}\n`);
  }
  const port = await freePort();
  const cfg = join(dir, 'kamailio.cfg');
  writeFileSync(cfg, config(o, port, db));
  const logFile = join(dir, 'kamailio.log');
  let proc: SpawnedProcess | undefined;
  const start = async () => {
    // exec: the PID we hold is kamailio's main process, which stops its children on SIGTERM.
    const cmd = `ulimit -c 0; exec ${KAMAILIO} -f ${cfg} -DD -E -Y ${dir} -P ${join(dir, 'kamailio.pid')} -w ${dir}`;
    const p = spawnLogged('/bin/sh', ['-c', cmd], { cwd: dir, logFile });
    proc = p;
    // Ready once the listeners are announced (UDP has no connect to probe).
    for (let i = 0; i < 100; i++) {
      if (!p.running()) throw new Error(`kamailio exited:\n${tail(logFile)}`);
      if (/main\(\): processes/.test(tail(logFile, 200))) break;
      await sleep(100);
    }
    await sleep(300);
  };
  try {
    await start();
  } catch (err) {
    await proc?.stop(2000);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    domain: o.domain,
    dir,
    log: () => tail(logFile),
    running: () => proc?.running() ?? false,
    stop: async () => {
      await proc?.stop(5000);
    },
    start: async () => {
      writeFileSync(logFile, '');
      // Kamailio 5.6 flushes presentity rows at shutdown that its db_text driver then refuses to load (a NULL
      // `sender`): presence state is in-memory test data anyway, so the presence tables start empty again.
      for (const table of ['presentity', 'active_watchers', 'watchers']) cpSync(join(DBTEXT, table), join(db, table));
      await start();
    },
    cleanup: async () => {
      await proc?.stop(5000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
