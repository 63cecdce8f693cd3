// switchboard start: runs the server until SIGINT/SIGTERM.
import { Server } from '../../server/core/server.js';
import { type CliOptions, cliConfig } from './config.js';

export async function runStart(opts: CliOptions): Promise<number> {
  const { config, source } = cliConfig(opts);
  const server = await Server.create({ config });
  await server.start();
  const hosts = Object.keys(config.hosts);
  console.log(`Switchboard serving ${hosts.join(', ')} (config: ${source}, storage: ${config.storage.driver})`);
  for (const l of server.listeners)
    console.log(`  listening: ${l.type} ${l.tls === 'none' ? '' : `(${l.tls}) `}on ${l.address}:${l.port}`);
  console.log(`Add a user: npx switchboard adduser alice@${hosts[0]}`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  console.log('shutting down');
  await server.stop();
  return 0;
}
