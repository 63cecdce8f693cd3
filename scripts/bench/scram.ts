// SCRAM-SHA-1 client for the load generator (RFC 5802). PBKDF2 is the costly part of a client login; a real
// client may keep SaltedPassword (RFC 5802 §5.1 notes this), so the keys are cached per (password, salt,
// iteration count). With that, the generator's per-login cost is a few HMACs, and what is measured is the server.
import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';

interface Keys {
  clientKey: Buffer;
  serverKey: Buffer;
}

const cache = new Map<string, Promise<Keys>>();

function keysFor(password: string, salt: Buffer, iterations: number): Promise<Keys> {
  const k = `${password}\0${salt.toString('base64')}\0${iterations}`;
  let p = cache.get(k);
  if (!p) {
    p = new Promise<Keys>((resolve, reject) => {
      pbkdf2(password, salt, iterations, 20, 'sha1', (err, salted) => {
        if (err) reject(err);
        else
          resolve({
            clientKey: createHmac('sha1', salted).update('Client Key').digest(),
            serverKey: createHmac('sha1', salted).update('Server Key').digest(),
          });
      });
    });
    cache.set(k, p);
  }
  return p;
}

/** RFC 5802 §5.1: ',' and '=' in a username are sent as =2C and =3D. */
function saslname(s: string): string {
  return s.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

export class ScramSha1Client {
  private readonly nonce = randomBytes(12).toString('base64');
  private readonly firstBare: string;
  private expected = '';

  constructor(
    user: string,
    private readonly password: string,
  ) {
    this.firstBare = `n=${saslname(user)},r=${this.nonce}`;
  }

  /** client-first-message with the gs2 header "n,," (no channel binding). */
  first(): string {
    return `n,,${this.firstBare}`;
  }

  /** client-final-message for a server-first-message. */
  async final(serverFirst: string): Promise<string> {
    let nonce = '';
    let salt = '';
    let iterations = 0;
    for (const part of serverFirst.split(',')) {
      const v = part.slice(2);
      if (part.startsWith('r=')) nonce = v;
      else if (part.startsWith('s=')) salt = v;
      else if (part.startsWith('i=')) iterations = Number(v);
    }
    if (!nonce.startsWith(this.nonce) || !salt || !(iterations > 0))
      throw new Error(`bad server-first: ${serverFirst}`);
    const { clientKey, serverKey } = await keysFor(this.password, Buffer.from(salt, 'base64'), iterations);
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.firstBare},${serverFirst},${withoutProof}`;
    const storedKey = createHash('sha1').update(clientKey).digest();
    const signature = createHmac('sha1', storedKey).update(authMessage).digest();
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = (clientKey[i] as number) ^ (signature[i] as number);
    this.expected = `v=${createHmac('sha1', serverKey).update(authMessage).digest('base64')}`;
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** RFC 5802 §3: the server proves it holds ServerKey. */
  verify(serverFinal: string): boolean {
    return this.expected !== '' && serverFinal === this.expected;
  }
}
