// TLS material: configured certificates, a self-signed fallback for development, and one SecureContext per host
// chosen by SNI (RFC 6120 §13.7.1: each served domain presents a certificate for its own name).
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { generate } from 'selfsigned';
import type { HostConfig, TlsConfig } from '../config/index.js';
import { SwitchboardError } from '../errors/index.js';

/** PEM text of a certificate (chain, leaf first) and its private key. */
export interface CertKeyPem {
  cert: string;
  key: string;
}

export interface TlsMaterial {
  /** Served when the client sends no SNI or names a host without its own certificate. */
  default: CertKeyPem;
  perHost: Map<string, CertKeyPem>;
}

export interface CertificateInfo {
  subject: string;
  issuer: string;
  /** DNS names and IP addresses from subjectAltName. */
  sans: string[];
  notAfter: Date;
  selfSigned: boolean;
  fingerprint256: string;
}

const SELF_SIGNED_YEARS = 10;
/** Regenerate a self-signed certificate this long before it expires, so a restart never serves an expired one. */
const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;

/**
 * Reads every configured certificate, or generates (and keeps) a self-signed one for `hosts` when
 * `tls.self_signed` is on and no default certificate is configured. `hostConfigs` supplies per-host certificates.
 */
export async function loadTlsMaterial(
  cfg: TlsConfig,
  dataDir: string,
  hosts: string[],
  log: Logger,
  hostConfigs: Readonly<Record<string, HostConfig | undefined>> = {},
): Promise<TlsMaterial> {
  const perHost = new Map<string, CertKeyPem>();
  for (const host of hosts) {
    const files = hostConfigs[host]?.tls;
    if (!files) continue;
    const pair = await readPair(files.cert, files.key);
    warnIfUnsuitable(pair.cert, host, files.cert, log);
    perHost.set(host, pair);
  }
  if (cfg.cert !== undefined && cfg.key !== undefined) {
    return { default: await readPair(cfg.cert, cfg.key), perHost };
  }
  if (cfg.self_signed) return { default: await ensureSelfSigned(dataDir, hosts, log), perHost };
  // Every host has its own certificate (the config loader checked); clients without SNI get the first one.
  const first = perHost.values().next();
  if (first.done) {
    throw new SwitchboardError('SB_ERR_TLS_CERT', 'no certificate: set tls.cert and tls.key, or tls.self_signed: true');
  }
  return { default: first.value, perHost };
}

export interface SecureContexts {
  default: tls.SecureContext;
  perHost: Map<string, tls.SecureContext>;
  SNICallback: (servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void) => void;
  /** Ready to spread into `tls.createServer()` or `new tls.TLSSocket(socket, { isServer: true, ... })`. */
  options: tls.TlsOptions;
}

export function createSecureContexts(material: TlsMaterial, cfg: Pick<TlsConfig, 'min_version'>): SecureContexts {
  const make = (pair: CertKeyPem) =>
    tls.createSecureContext({ cert: pair.cert, key: pair.key, minVersion: cfg.min_version });
  const fallback = make(material.default);
  const perHost = new Map([...material.perHost].map(([host, pair]) => [host, make(pair)] as const));
  const SNICallback: SecureContexts['SNICallback'] = (servername, cb) => {
    // DNS names are case-insensitive and may carry a trailing dot; host keys are lowercase without one.
    const name = servername.toLowerCase().replace(/\.$/, '');
    cb(null, perHost.get(name) ?? fallback);
  };
  return {
    default: fallback,
    perHost,
    SNICallback,
    // tls.createServer() ignores `secureContext` and builds its default context from cert/key, while
    // new TLSSocket() uses `secureContext`: give both so either entry point serves the same default. The SNI
    // callback only when some host has a certificate of its own: it costs every handshake a certificate
    // callback and a per-connection copy of the chosen context's CA list.
    options: {
      secureContext: fallback,
      cert: material.default.cert,
      key: material.default.key,
      ...(perHost.size > 0 ? { SNICallback } : {}),
      minVersion: cfg.min_version,
    },
  };
}

export function describeCertificate(pem: string): CertificateInfo {
  const x509 = new X509Certificate(pem);
  return {
    subject: x509.subject,
    issuer: x509.issuer,
    sans: parseSubjectAltName(x509.subjectAltName),
    notAfter: new Date(x509.validTo),
    selfSigned: x509.issuer === x509.subject && x509.verify(x509.publicKey),
    fingerprint256: x509.fingerprint256,
  };
}

/** Node renders SANs as `DNS:a, DNS:b, IP Address:1.2.3.4`, quoting values that contain separators. */
function parseSubjectAltName(text: string | undefined): string[] {
  if (!text) return [];
  const out: string[] = [];
  for (const entry of text.split(', ')) {
    const m = /^(DNS|IP Address):(.*)$/.exec(entry);
    if (!m?.[2]) continue;
    const value = m[2];
    out.push(value.startsWith('"') ? (JSON.parse(value) as string) : value);
  }
  return out;
}

async function readPair(certPath: string, keyPath: string): Promise<CertKeyPem> {
  const cert = await readPem(certPath);
  const key = await readPem(keyPath);
  let x509: X509Certificate;
  let privateKey: KeyObject;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw tlsError(certPath, `not a PEM certificate (${(err as Error).message})`, err);
  }
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    // Encrypted keys land here too: the server cannot prompt for a passphrase.
    throw tlsError(keyPath, `not an unencrypted PEM private key (${(err as Error).message})`, err);
  }
  if (!x509.checkPrivateKey(privateKey)) throw tlsError(keyPath, `does not match the certificate ${certPath}`);
  return { cert, key };
}

async function readPem(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(err);
    throw tlsError(path, `cannot read (${reason})`, err);
  }
}

function tlsError(path: string, reason: string, cause?: unknown): SwitchboardError {
  return new SwitchboardError('SB_ERR_TLS_CERT', `${path}: ${reason}`, cause === undefined ? undefined : { cause });
}

/** A wrong or expired certificate still starts the server (clients decide), but the operator should know. */
function warnIfUnsuitable(pem: string, host: string, path: string, log: Logger): void {
  const x509 = new X509Certificate(pem);
  if (x509.checkHost(host) === undefined) log.warn({ host, path }, 'certificate does not cover this host name');
  if (new Date(x509.validTo).getTime() < Date.now())
    log.warn({ host, path, notAfter: x509.validTo }, 'certificate expired');
}

async function ensureSelfSigned(dataDir: string, hosts: string[], log: Logger): Promise<CertKeyPem> {
  const dir = join(dataDir, 'tls');
  const certPath = join(dir, 'selfsigned.crt');
  const keyPath = join(dir, 'selfsigned.key');
  const existing = await reusable(certPath, keyPath, hosts, log);
  if (existing) return existing;
  const pair = await generateSelfSigned(hosts);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // Write then rename, so a crash never leaves a half-written key; the key is readable by the owner only.
  await writeAtomically(keyPath, pair.key, 0o600);
  await writeAtomically(certPath, pair.cert, 0o644);
  log.warn(
    { cert: certPath, hosts },
    'generated a self-signed certificate; clients will not trust it (set tls.cert and tls.key in production)',
  );
  return pair;
}

/** The kept certificate, if it still matches its key, covers every host and is not about to expire. */
async function reusable(certPath: string, keyPath: string, hosts: string[], log: Logger): Promise<CertKeyPem | null> {
  let pair: CertKeyPem;
  try {
    pair = await readPair(certPath, keyPath);
  } catch (err) {
    const missing = (err as { cause?: NodeJS.ErrnoException }).cause?.code === 'ENOENT';
    if (!missing) log.warn({ err }, 'unusable self-signed certificate; generating a new one');
    return null;
  }
  const info = describeCertificate(pair.cert);
  const uncovered = hosts.filter((h) => !info.sans.includes(h));
  if (uncovered.length > 0) {
    log.info({ uncovered }, 'self-signed certificate lacks some hosts; generating a new one');
    return null;
  }
  if (info.notAfter.getTime() - Date.now() < RENEW_BEFORE_MS) {
    log.info({ notAfter: info.notAfter }, 'self-signed certificate expires soon; generating a new one');
    return null;
  }
  return pair;
}

async function generateSelfSigned(hosts: string[]): Promise<CertKeyPem> {
  const names = hosts.length > 0 ? hosts : ['localhost'];
  // Backdated a day so clients with a slightly slow clock do not see a not-yet-valid certificate.
  const notBeforeDate = new Date(Date.now() - 24 * 3600 * 1000);
  const notAfterDate = new Date(notBeforeDate);
  notAfterDate.setFullYear(notAfterDate.getFullYear() + SELF_SIGNED_YEARS);
  const pems = await generate([{ name: 'commonName', value: names[0] }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      // clientAuth too: s2s peers present the same certificate when they dial out (RFC 6120 §13.7.1.1).
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      { name: 'subjectAltName', altNames: names.map((value) => ({ type: 2 as const, value })) },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

async function writeAtomically(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, data, { mode });
  // The mode given to writeFile is filtered by the umask; set it explicitly.
  await chmod(tmp, mode);
  await rename(tmp, path);
}
