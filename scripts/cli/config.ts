// Finds and loads the configuration for CLI commands.
import { existsSync } from 'node:fs';
import { type Config, defaultConfig, loadConfig } from '../../server/config/index.js';
import { moduleSchemas } from '../../server/modules/registry.js';

export interface CliOptions {
  config?: string | undefined;
  passwordFile?: string | undefined;
  fromFile?: string | undefined;
}

/** --config FILE, else ./switchboard.yaml when present, else the embedded default (localhost, SQLite). */
export function cliConfig(opts: CliOptions): { config: Config; source: string } {
  const file = opts.config ?? (existsSync('switchboard.yaml') ? 'switchboard.yaml' : undefined);
  if (!file) return { config: defaultConfig(), source: 'built-in defaults' };
  return { config: loadConfig({ file, moduleSchemas: moduleSchemas() }), source: file };
}
