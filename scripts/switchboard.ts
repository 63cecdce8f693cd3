#!/usr/bin/env node
// Switchboard command line: start the server and manage accounts (docs/user-guide.md lists the commands).
import { parseArgs } from 'node:util';
import { SwitchboardError } from '../server/errors/index.js';
import { runAccounts } from './cli/accounts.js';
import { runCheck } from './cli/check.js';
import { runStart } from './cli/start.js';

const USAGE = `usage:
  switchboard start [--config FILE]
  switchboard adduser JID [--password-file FILE] [--config FILE]
  switchboard adduser --from-file FILE [--config FILE]     (lines: jid<TAB>password)
  switchboard passwd JID [--password-file FILE] [--config FILE]
  switchboard deluser JID [--config FILE]
  switchboard check [--config FILE]
Passwords are prompted for, or read from standard input when it is not a terminal.`;

/** Exit codes: 0 ok, 1 failure, 2 usage, 3 invalid configuration. */
async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      'password-file': { type: 'string' },
      'from-file': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const opts = { config: values.config, passwordFile: values['password-file'], fromFile: values['from-file'] };
  switch (command) {
    case 'start':
      return runStart(opts);
    case 'check':
      return runCheck(opts);
    case 'adduser':
    case 'passwd':
    case 'deluser':
      return runAccounts(command, rest, opts);
    default:
      console.error(`unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof SwitchboardError) {
      console.error(`error: ${err.message} (${err.code})`);
      process.exitCode =
        err.code === 'SB_ERR_CONFIG_INVALID' || err.code === 'SB_ERR_CONFIG_NOT_FOUND'
          ? 3
          : err.code === 'SB_ERR_USAGE'
            ? 2
            : 1;
    } else if (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) {
      console.error(`${err.message}\n${USAGE}`);
      process.exitCode = 2;
    } else {
      console.error(err instanceof Error ? `error: ${err.message}` : err);
      process.exitCode = 1;
    }
  },
);
