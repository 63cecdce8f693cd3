// Federation test helpers: a private certificate authority (node's crypto through `selfsigned`), Switchboard
// servers with an s2s listener and static routes to each other on loopback, and client logins to them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { type ClientSession, xml } from './im-clients.js';
import { startTestServer, type TestServer } from './server.js';
import { startClient } from './xmpp-client.js';

export interface CertFiles {
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
}

export interface TestPki {
  caPem: string;
  caFile: string;
  /** A certificate for `domain` (DNS SAN, serverAuth and clientAuth) signed by the CA; cached. */
  issue(domain: string): Promise<CertFiles>;
  cleanup(): void;
}

const DAY = 24 * 3600 * 1000;

export async function createPki(name = 'Switchboard Test CA'): Promise<TestPki> {
  const dir = mkdtempSync(join(tmpdir(), 'sb-pki-'));
  const notBeforeDate = new Date(Date.now() - DAY);
  const notAfterDate = new Date(Date.now() + 30 * DAY);
  const ca = await generate([{ name: 'commonName', value: name }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const caFile = join(dir, 'ca.crt');
  writeFileSync(caFile, ca.cert);
  const issued = new Map<string, CertFiles>();
  return {
    caPem: ca.cert,
    caFile,
    async issue(domain) {
      const known = issued.get(domain);
      if (known) return known;
      const leaf = await generate([{ name: 'commonName', value: domain }], {
        keyType: 'ec',
        algorithm: 'sha256',
        notBeforeDate,
        notAfterDate,
        ca: { key: ca.private, cert: ca.cert },
        extensions: [
          { name: 'basicConstraints', cA: false },
          { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
          // clientAuth: a server presents its certificate as a TLS client when it dials out (XEP-0178).
          { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
          { name: 'subjectAltName', altNames: [{ type: 2, value: domain }] },
        ],
      });
      const files = {
        cert: leaf.cert,
        key: leaf.private,
        certFile: join(dir, `${domain}.crt`),
        keyFile: join(dir, `${domain}.key`),
      };
      writeFileSync(files.certFile, files.cert);
      writeFileSync(files.keyFile, files.key, { mode: 0o600 });
      issued.set(domain, files);
      return files;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface FederatedServerOptions {
  domain: string;
  /** More hosts served by the same server (with certificates from `pki` too when given). */
  moreDomains?: string[];
  /** Port of this server's s2s listener (chosen ahead with freePort() so that peers can route to it). */
  s2sPort: number;
  /** Static routes: domain → "127.0.0.1:port", or with direct TLS. */
  routes?: Record<string, number | { port: number; directTls: boolean }>;
  /** Certificates from this CA (and trust it); without it the server uses a self-signed certificate. */
  pki?: TestPki;
  listenerTls?: 'starttls' | 'direct';
  /** Extra lines inside the `s2s:` section, e.g. 'dialback: false'. */
  s2s?: string[];
  dataDir?: string;
}

export async function startFederatedServer(opts: FederatedServerOptions): Promise<TestServer> {
  const hosts: string[] = [];
  for (const domain of [opts.domain, ...(opts.moreDomains ?? [])]) {
    const cert = opts.pki ? await opts.pki.issue(domain) : undefined;
    hosts.push(
      cert
        ? `  ${domain}: { tls: { cert: ${JSON.stringify(cert.certFile)}, key: ${JSON.stringify(cert.keyFile)} } }`
        : `  ${domain}: {}`,
    );
  }
  const hostsYaml = ['hosts:', ...hosts].join('\n');
  const routes = Object.entries(opts.routes ?? {}).map(([domain, r]) =>
    typeof r === 'number'
      ? `    ${domain}: "127.0.0.1:${r}"`
      : `    ${domain}: { address: "127.0.0.1:${r.port}", direct_tls: ${r.directTls} }`,
  );
  const yaml = [
    's2s:',
    routes.length > 0 ? '  routes:' : '  routes: {}',
    ...routes,
    ...(opts.pki ? [`  ca_file: ${JSON.stringify(opts.pki.caFile)}`] : []),
    ...(opts.s2s ?? []).map((l) => `  ${l}`),
  ].join('\n');
  return startTestServer({
    hostsYaml,
    yaml,
    listeners: [`{ type: s2s, address: 127.0.0.1, port: ${opts.s2sPort}, tls: ${opts.listenerTls ?? 'starttls'} }`],
    ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
  });
}

/** Logs `username` (created with password `<name>-secret` unless `create` is false) into a federated server. */
export async function loginAt(
  srv: TestServer,
  domain: string,
  username: string,
  opts: { pki?: TestPki; create?: boolean } = {},
): Promise<ClientSession> {
  if (opts.create !== false) await srv.addUser(username, `${username}-secret`, domain);
  return startClient({
    port: srv.port,
    ...(opts.pki ? { caPem: opts.pki.caPem } : { dataDir: srv.dataDir }),
    domain,
    username,
    password: `${username}-secret`,
    resource: 'r1',
    mechanism: 'PLAIN',
  });
}

/** An iq round trip with the user's own server: everything sent before it has been processed. */
export async function syncWith(c: ClientSession, domain: string): Promise<void> {
  await c.request(xml('iq', { type: 'get', to: domain }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
}
