// Opens the configured storage driver and runs its migrations.
import { isAbsolute, join } from 'node:path';
import type { Logger } from 'pino';
import type { StorageDriver } from '../../storage/api/index.js';
import { createKnexStorage } from '../../storage/knex/index.js';
import { createMemoryStorage } from '../../storage/memory/index.js';
import type { Config } from '../config/index.js';
import { SwitchboardError } from '../errors/index.js';

export async function openStorage(config: Config, log: Logger): Promise<StorageDriver> {
  const s = config.storage;
  let driver: StorageDriver;
  try {
    if (s.driver === 'memory') driver = createMemoryStorage();
    else if (s.driver === 'sqlite') {
      const path = isAbsolute(s.path) ? s.path : join(process.cwd(), s.path);
      driver = await createKnexStorage({ driver: 'sqlite', path }, log);
    } else driver = await createKnexStorage({ driver: 'postgres', url: s.url }, log);
    await driver.migrate();
  } catch (err) {
    if (err instanceof SwitchboardError) throw err;
    throw new SwitchboardError('SB_ERR_STORAGE', `cannot open ${s.driver} storage: ${String(err)}`, { cause: err });
  }
  return driver;
}
