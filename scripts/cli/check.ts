// switchboard check: validates configuration, certificates and that every listener's port can be bound.
import net from 'node:net';
import pino from 'pino';
import { describeCertificate, loadTlsMaterial } from '../../server/stream/tls-context.js';
import { type CliOptions, cliConfig } from './config.js';

function canBind(address: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    srv.listen(port, address, () => srv.close(() => resolve(null)));
  });
}

export async function runCheck(opts: CliOptions): Promise<number> {
  const { config, source } = cliConfig(opts);
  let problems = 0;
  console.log(`config: ${source}: ok`);
  const hosts = Object.keys(config.hosts);
  const log = pino({ level: 'warn' }, pino.destination(2));
  try {
    const material = await loadTlsMaterial(config.tls, config.data_dir, hosts, log, config.hosts);
    const pairs = [['default', material.default] as const, ...[...material.perHost].map(([h, m]) => [h, m] as const)];
    for (const [name, pair] of pairs) {
      const info = describeCertificate(pair.cert);
      const days = Math.floor((info.notAfter.getTime() - Date.now()) / 86_400_000);
      const missing =
        name === 'default'
          ? hosts.filter((h) => !material.perHost.has(h) && !covers(info.sans, h))
          : covers(info.sans, name)
            ? []
            : [name];
      const bad = days < 0 || missing.length > 0;
      if (bad) problems++;
      console.log(
        `certificate ${name}: ${info.subject}; names ${info.sans.join(', ') || '(none)'}; expires in ${days} days${info.selfSigned ? '; self-signed' : ''}` +
          (missing.length ? `; does not cover ${missing.join(', ')}` : '') +
          (days < 0 ? '; EXPIRED' : ''),
      );
    }
  } catch (err) {
    problems++;
    console.log(`certificates: ${err instanceof Error ? err.message : String(err)}`);
  }
  for (const l of config.listeners) {
    const err = l.port === 0 ? null : await canBind(l.address, l.port);
    if (err) problems++;
    console.log(`listener ${l.type} ${l.address}:${l.port}: ${err ? `cannot bind (${err})` : 'ok'}`);
  }
  console.log(problems ? `${problems} problem(s) found` : 'all checks passed');
  return problems ? 1 : 0;
}

/** RFC 6125 §6.4.3: a wildcard covers exactly one leftmost label. */
function covers(sans: string[], host: string): boolean {
  return sans.some((n) => n === host || (n.startsWith('*.') && host.slice(host.indexOf('.') + 1) === n.slice(2)));
}
