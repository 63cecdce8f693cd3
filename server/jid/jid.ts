// The JID value object (RFC 7622). Instances hold prepared parts only, so equality is plain string equality.
import { JidError, prepareDomainpart, prepareLocalpart, prepareResourcepart } from './precis.js';

/**
 * Bounded cache of parsed addresses keyed by the raw string. Every stanza carries 'to'/'from', and the same few
 * addresses recur, so this skips PRECIS work on the hot path. It is module-level on purpose: Jid values are
 * immutable and carry no host or configuration, so sharing them cannot leak state between hosts, and a parse
 * cache threaded through every caller would buy nothing. Failures are not cached, so junk cannot evict hits.
 *
 * Two generations instead of an exact LRU: a hit in the young map costs one lookup, where an LRU's
 * delete-and-reinsert on every hit showed in the message benchmark's profile (docs/benchmarks.md). When the young
 * map is full it becomes the old one; an old entry that is used again moves back to the young map, so whatever was
 * used within the last generation survives, and at most `limit` entries are held.
 */
class ParseCache {
  private young = new Map<string, Jid>();
  private old = new Map<string, Jid>();
  private readonly generation: number;

  constructor(limit: number) {
    this.generation = Math.max(1, Math.floor(limit / 2));
  }

  get(key: string): Jid | undefined {
    const hit = this.young.get(key);
    if (hit !== undefined) return hit;
    const aged = this.old.get(key);
    if (aged !== undefined) this.set(key, aged);
    return aged;
  }

  set(key: string, value: Jid): void {
    if (this.young.size >= this.generation) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }
}

const PARSE_CACHE_SIZE = 10_000;
const parseCache = new ParseCache(PARSE_CACHE_SIZE);

export class Jid {
  readonly local: string | null;
  readonly domain: string;
  readonly resource: string | null;
  // Lazily built and then reused: routing asks for these strings many times per stanza.
  private full: string | undefined;
  private bareStr: string | undefined;
  private bareJid: Jid | undefined;
  private domJid: Jid | undefined;

  /** Parts must already be prepared; use parse() or of() from outside. */
  private constructor(local: string | null, domain: string, resource: string | null) {
    this.local = local;
    this.domain = domain;
    this.resource = resource;
  }

  /** Parses and prepares an address; throws JidError when it is malformed (RFC 6120 §8.3.3.8 jid-malformed). */
  static parse(s: string): Jid {
    const cached = parseCache.get(s);
    if (cached !== undefined) return cached;
    const jid = Jid.split(s);
    parseCache.set(s, jid);
    return jid;
  }

  /** Like parse(), but null for a missing or malformed address (e.g. an optional 'from' attribute). */
  static tryParse(s: string | undefined | null): Jid | null {
    if (s === undefined || s === null || s === '') return null;
    try {
      return Jid.parse(s);
    } catch (err) {
      if (err instanceof JidError) return null;
      throw err;
    }
  }

  /** Builds an address from unprepared parts, preparing each one. */
  static of(local: string | null, domain: string, resource?: string | null): Jid {
    return new Jid(
      local === null ? null : prepareLocalpart(local),
      prepareDomainpart(domain),
      resource === undefined || resource === null ? null : prepareResourcepart(resource),
    );
  }

  /**
   * RFC 7622 §3.1: the resourcepart is everything after the first '/', so it may hold '@' and '/'; the localpart
   * is what precedes the first '@' before that '/'. A separator that is present delimits a part that must not
   * be empty (RFC 7622 §3.3, §3.4: 'juliet@', '@example.com/' and '/foobar' are invalid).
   */
  private static split(s: string): Jid {
    const slash = s.indexOf('/');
    const head = slash === -1 ? s : s.slice(0, slash);
    const at = head.indexOf('@');
    const local = at === -1 ? null : prepareLocalpart(head.slice(0, at));
    const domain = prepareDomainpart(at === -1 ? head : head.slice(at + 1));
    const resource = slash === -1 ? null : prepareResourcepart(s.slice(slash + 1));
    return new Jid(local, domain, resource);
  }

  get isBare(): boolean {
    return this.resource === null;
  }

  /** A domain JID has neither localpart nor resourcepart (e.g. a host or a component). */
  get isDomain(): boolean {
    return this.local === null && this.resource === null;
  }

  bare(): Jid {
    if (this.resource === null) return this;
    this.bareJid ??= new Jid(this.local, this.domain, null);
    return this.bareJid;
  }

  domainJid(): Jid {
    if (this.isDomain) return this;
    this.domJid ??= new Jid(null, this.domain, null);
    return this.domJid;
  }

  withResource(r: string): Jid {
    return new Jid(this.local, this.domain, prepareResourcepart(r));
  }

  equals(o: Jid): boolean {
    return this === o || (this.resource === o.resource && this.domain === o.domain && this.local === o.local);
  }

  bareEquals(o: Jid): boolean {
    return this.domain === o.domain && this.local === o.local;
  }

  get bareString(): string {
    this.bareStr ??= this.local === null ? this.domain : `${this.local}@${this.domain}`;
    return this.bareStr;
  }

  toString(): string {
    this.full ??= this.resource === null ? this.bareString : `${this.bareString}/${this.resource}`;
    return this.full;
  }

  /** Loggers and JSON encoders see the address, not the lazy caches. */
  toJSON(): string {
    return this.toString();
  }
}
