// switchboard adduser / passwd / deluser: account management straight against the store.
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { AccountService } from '../../server/core/accounts.js';
import { openStorage } from '../../server/core/storage.js';
import { SwitchboardError } from '../../server/errors/index.js';
import { Jid, JidError } from '../../server/jid/index.js';
import { type CliOptions, cliConfig } from './config.js';
import { readPassword } from './password.js';

function parseUserJid(s: string | undefined, hosts: string[]): { user: string; host: string } {
  if (!s) throw new SwitchboardError('SB_ERR_USAGE', 'a JID is required, e.g. alice@localhost');
  let jid: Jid;
  try {
    jid = Jid.parse(s);
  } catch (err) {
    if (err instanceof JidError) throw new SwitchboardError('SB_ERR_JID_INVALID', `invalid JID "${s}": ${err.message}`);
    throw err;
  }
  if (jid.local === null || jid.resource !== null)
    throw new SwitchboardError('SB_ERR_JID_INVALID', `"${s}" is not a user JID (user@host)`);
  if (!hosts.includes(jid.domain))
    throw new SwitchboardError(
      'SB_ERR_JID_INVALID',
      `${jid.domain} is not a host of this server (${hosts.join(', ')})`,
    );
  return { user: jid.local, host: jid.domain };
}

export async function runAccounts(
  command: 'adduser' | 'passwd' | 'deluser',
  args: string[],
  opts: CliOptions,
): Promise<number> {
  const { config } = cliConfig(opts);
  const hosts = Object.keys(config.hosts);
  const log = pino({ level: 'warn' }, pino.destination(2));
  const storage = await openStorage(config, log);
  const accounts = new AccountService(storage.accounts, config.auth.scram_iterations);
  try {
    if (command === 'adduser' && opts.fromFile) return await bulkAdd(accounts, opts.fromFile, hosts);
    const { user, host } = parseUserJid(args[0], hosts);
    if (command === 'deluser') {
      await accounts.delete(host, user);
      console.log(`deleted ${user}@${host}`);
      return 0;
    }
    if (command === 'adduser' && (await accounts.exists(host, user))) {
      throw new SwitchboardError('SB_ERR_ACCOUNT_EXISTS', `account ${user}@${host} already exists`);
    }
    if (command === 'passwd' && !(await accounts.exists(host, user))) {
      throw new SwitchboardError('SB_ERR_ACCOUNT_NOT_FOUND', `no account ${user}@${host}`);
    }
    const password = await readPassword({
      file: opts.passwordFile,
      prompt: `Password for ${user}@${host}: `,
      confirm: true,
    });
    if (command === 'adduser') await accounts.create(host, user, password);
    else await accounts.setPassword(host, user, password);
    console.log(command === 'adduser' ? `created ${user}@${host}` : `password changed for ${user}@${host}`);
    return 0;
  } finally {
    await storage.close();
  }
}

/** Lines "jid<TAB>password"; blank lines and lines starting with # are skipped. */
async function bulkAdd(accounts: AccountService, file: string, hosts: string[]): Promise<number> {
  const byHost = new Map<string, { username: string; password: string }[]>();
  const lines = readFileSync(file, 'utf8').split(/\r?\n/);
  for (const [i, line] of lines.entries()) {
    if (!line.trim() || line.startsWith('#')) continue;
    const tab = line.indexOf('\t');
    if (tab < 0) throw new SwitchboardError('SB_ERR_USAGE', `${file}:${i + 1}: expected "jid<TAB>password"`);
    const password = line.slice(tab + 1);
    if (!password) throw new SwitchboardError('SB_ERR_USAGE', `${file}:${i + 1}: empty password`);
    let parsed: { user: string; host: string };
    try {
      parsed = parseUserJid(line.slice(0, tab).trim(), hosts);
    } catch (err) {
      if (err instanceof SwitchboardError) throw new SwitchboardError(err.code, `${file}:${i + 1}: ${err.message}`);
      throw err;
    }
    const list = byHost.get(parsed.host) ?? [];
    list.push({ username: parsed.user, password });
    byHost.set(parsed.host, list);
  }
  let created = 0;
  let total = 0;
  for (const [host, entries] of byHost) {
    total += entries.length;
    created += await accounts.createMany(host, entries);
  }
  console.log(`created ${created} account(s), ${total - created} already existed`);
  return 0;
}
