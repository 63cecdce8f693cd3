// A throw-away certificate authority for federation tests with real peers (DESIGN §8 item 5).
//
// Generated with the `openssl` command-line tool (Node can verify certificates but not issue them). Server
// certificates carry the domain as a SAN dNSName (RFC 6125 §6.4.4; XMPP servers match DNS-ID, not the CN) and
// both serverAuth and clientAuth, because an s2s certificate is also presented as a TLS client certificate for
// SASL EXTERNAL (XEP-0178). Keys are EC P-256: fast to generate, accepted by Prosody (LuaSec), ejabberd
// (fast_tls) and Node.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface IssuedCert {
  /** The names the certificate carries (SAN dNSName), first one also the CN. */
  readonly names: readonly string[];
  readonly certFile: string;
  readonly keyFile: string;
  /** Certificate then key in one file (ejabberd's `certfiles`). */
  readonly pemFile: string;
  readonly certPem: string;
  /** What a TLS client must trust to validate it: the CA certificate, or the certificate itself if self-signed. */
  readonly trustPem: string;
  /** True when it chains to the test CA and names the domain it was issued for. */
  readonly validForDomain: boolean;
}

/** Whether the `openssl` CLI can be run. */
export function opensslAvailable(): boolean {
  const r = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  return r.status === 0;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
const safe = (name: string) => name.replace(/[^a-zA-Z0-9.-]/g, '_');

export class TestCa {
  readonly certFile: string;
  readonly certPem: string;
  private readonly keyFile: string;
  private serial = 1;

  private constructor(
    readonly dir: string,
    private readonly ownsDir: boolean,
  ) {
    this.certFile = join(dir, 'ca.crt');
    this.keyFile = join(dir, 'ca.key');
    openssl(
      [
        'req',
        '-x509',
        ...EC_KEY,
        '-keyout',
        this.keyFile,
        '-out',
        this.certFile,
        '-days',
        '30',
        '-subj',
        `/O=Switchboard tests/CN=Switchboard Test CA ${process.pid}`,
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ],
      dir,
    );
    this.certPem = readFileSync(this.certFile, 'utf8');
  }

  /** Creates a CA in `dir` (a new temp dir by default; removed by `cleanup()` only if created here). */
  static create(dir?: string): TestCa {
    if (dir) mkdirSync(dir, { recursive: true });
    return new TestCa(dir ?? mkdtempSync(join(tmpdir(), 'sb-ca-')), !dir);
  }

  /** A server certificate for `domains` (SAN dNSName each), signed by this CA. */
  issue(domains: string | readonly string[]): IssuedCert {
    const names = typeof domains === 'string' ? [domains] : [...domains];
    const first = names[0];
    if (!first) throw new Error('issue() needs at least one domain');
    return this.sign(`${safe(first)}-${this.serial}`, names, true);
  }

  /**
   * A certificate signed by this CA but for another name than `domain` (it names `actualName`): it chains, but the
   * RFC 6125 name check fails, so a peer must not accept it for `domain`.
   */
  wrongName(domain: string, actualName = `not-${domain}`): IssuedCert {
    const cert = this.sign(`${safe(domain)}-wrongname-${this.serial}`, [actualName], true);
    return { ...cert, validForDomain: false };
  }

  /**
   * A self-signed certificate naming `domain`: the name matches but nothing vouches for it, so peers that do not
   * trust it explicitly fall back to dialback (XEP-0220) or refuse.
   */
  selfSigned(domain: string): IssuedCert {
    const base = `${safe(domain)}-selfsigned-${this.serial++}`;
    const keyFile = join(this.dir, `${base}.key`);
    const certFile = join(this.dir, `${base}.crt`);
    openssl(
      [
        'req',
        '-x509',
        ...EC_KEY,
        '-keyout',
        keyFile,
        '-out',
        certFile,
        '-days',
        '30',
        '-subj',
        `/CN=${domain}`,
        '-addext',
        `subjectAltName=DNS:${domain}`,
        '-addext',
        'extendedKeyUsage=serverAuth,clientAuth',
      ],
      this.dir,
    );
    return this.finish(base, [domain], certFile, keyFile, false, true);
  }

  /** Removes the CA directory (with every certificate issued), if this CA created it. */
  cleanup(): void {
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }

  private sign(base: string, names: string[], valid: boolean): IssuedCert {
    const serial = this.serial++;
    const keyFile = join(this.dir, `${base}.key`);
    const csrFile = join(this.dir, `${base}.csr`);
    const extFile = join(this.dir, `${base}.ext`);
    const certFile = join(this.dir, `${base}.crt`);
    openssl(['req', '-new', ...EC_KEY, '-keyout', keyFile, '-out', csrFile, '-subj', `/CN=${names[0]}`], this.dir);
    writeFileSync(
      extFile,
      [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth,clientAuth',
        `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`,
        '',
      ].join('\n'),
    );
    openssl(
      [
        'x509',
        '-req',
        '-in',
        csrFile,
        '-CA',
        this.certFile,
        '-CAkey',
        this.keyFile,
        '-set_serial',
        String(serial + 1000),
        '-days',
        '30',
        '-extfile',
        extFile,
        '-out',
        certFile,
      ],
      this.dir,
    );
    rmSync(csrFile);
    rmSync(extFile);
    return this.finish(base, names, certFile, keyFile, valid);
  }

  private finish(
    base: string,
    names: string[],
    certFile: string,
    keyFile: string,
    valid: boolean,
    selfSigned = false,
  ): IssuedCert {
    const certPem = readFileSync(certFile, 'utf8');
    const pemFile = join(this.dir, `${base}.pem`);
    writeFileSync(pemFile, certPem + readFileSync(keyFile, 'utf8'));
    const trustPem = selfSigned ? certPem : this.certPem;
    return { names, certFile, keyFile, pemFile, certPem, trustPem, validForDomain: valid };
  }
}
