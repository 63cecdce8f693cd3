// Options of the SIP gateway driver (`gateways.<domain>.options`), checked against this schema at startup
// (DESIGN §1: an unknown key or a wrong type refuses to start). See docs/gateways.md "SIP".
import { type Static, Type } from '@sinclair/typebox';

const strict = { additionalProperties: false } as const;
const NonEmpty = () => Type.String({ minLength: 1 });
const Port = () => Type.Integer({ minimum: 0, maximum: 65535 });

export const SipListenSchema = Type.Object(
  {
    transport: Type.Union([Type.Literal('udp'), Type.Literal('tcp'), Type.Literal('tls')]),
    address: Type.String({ minLength: 1, default: '127.0.0.1' }),
    /** 5060 for UDP/TCP and 5061 for TLS are the RFC 3261 §19.1.2 defaults; 0 picks a free port. */
    port: Port(),
    /** PEM files for a TLS listener. */
    tls_cert_file: Type.Optional(NonEmpty()),
    tls_key_file: Type.Optional(NonEmpty()),
  },
  strict,
);

export const SipInboundAuthSchema = Type.Object(
  {
    realm: NonEmpty(),
    /** SIP user name → password of the peers allowed to send to XMPP users (RFC 3261 §22). */
    users: Type.Record(Type.String(), Type.String()),
  },
  strict,
);

export const SipOptionsSchema = Type.Object(
  {
    /**
     * `domain`: the gateway is the SIP side of the XMPP domains (RFC 7247 same-domain model): SIP peers reach
     * `sip:alice@<xmpp domain>` through `sip_listen`. `register`: each user registers their own SIP account (XEP-0100
     * registration: address and password) with an existing registrar, which also relays their messages.
     */
    mode: Type.Union([Type.Literal('domain'), Type.Literal('register')], { default: 'register' }),
    sip_listen: Type.Array(SipListenSchema, { default: [] }),
    /** Local address of the client UDP socket when no UDP listener is configured. */
    client_address: Type.String({ minLength: 1, default: '127.0.0.1' }),
    /** Mode `domain`: further host names or addresses SIP peers use for the gateway itself (e.g. its IP). */
    aliases: Type.Array(NonEmpty(), { default: [] }),
    /** Mode `domain`: the XMPP domain of users addressed as `sip:user@<gateway domain or alias>`. */
    xmpp_domain: Type.Optional(NonEmpty()),
    /** Mode `domain`: who may see users' presence: `open` every SIP watcher, `contacts` only their contacts. */
    presence_authorization: Type.Union([Type.Literal('open'), Type.Literal('contacts')], { default: 'contacts' }),
    /** Mode `domain`: digest credentials SIP peers must present (RFC 3261 §22); absent: no authentication. */
    inbound_auth: Type.Optional(SipInboundAuthSchema),
    /** Every outgoing request goes through this proxy (RFC 3261 §8.1.2), e.g. `sip:127.0.0.1:5080;transport=tcp`. */
    outbound_proxy: Type.Optional(NonEmpty()),
    /** Mode `register`: the registrar (default: the domain of each user's address); also the outbound proxy. */
    registrar: Type.Optional(NonEmpty()),
    /** Mode `register`: publish users' presence (RFC 3903 PUBLISH) to the presence server behind the proxy. */
    publish: Type.Boolean({ default: true }),
    /** Mode `register`: accept requests only from these addresses (default: the registrar's). */
    trusted_sources: Type.Optional(Type.Array(NonEmpty())),
    register_expires: Type.Integer({ minimum: 1, default: 600 }),
    subscribe_expires: Type.Integer({ minimum: 1, default: 3600 }),
    publish_expires: Type.Integer({ minimum: 1, default: 3600 }),
    /** Bounds on the expiry of subscriptions and publications the gateway accepts (RFC 6665 §4.2.1.1). */
    min_expires: Type.Integer({ minimum: 1, default: 60 }),
    max_expires: Type.Integer({ minimum: 1, default: 86_400 }),
    /** RFC 3261 §17 timer values in ms (T1 RTT estimate, T2 cap, T4 network lifetime). */
    timer_t1_ms: Type.Integer({ minimum: 10, default: 500 }),
    timer_t2_ms: Type.Integer({ minimum: 10, default: 4000 }),
    timer_t4_ms: Type.Integer({ minimum: 10, default: 5000 }),
    /**
     * A MESSAGE for an XMPP user is answered once the user's server has taken it (200) or refused it (the RFC 7247
     * §7.1 code). This long more (ms) is given to the recipient's own client to answer with an error: 0, the default,
     * answers at once (RFC 3428 §7: a final response "immediately"); keep it far below the peer's 32 s Timer F.
     */
    xmpp_error_wait_ms: Type.Integer({ minimum: 0, maximum: 10_000, default: 0 }),
    /** Inbound requests per second per source address (burst above), beyond which 503 + Retry-After. */
    rate_per_source: Type.Number({ exclusiveMinimum: 0, default: 50 }),
    rate_burst: Type.Integer({ minimum: 1, default: 100 }),
    max_transactions: Type.Integer({ minimum: 1, default: 5000 }),
    retry_after_seconds: Type.Integer({ minimum: 1, default: 5 }),
    user_agent: Type.String({ minLength: 1, default: 'Switchboard SIP gateway' }),
    /** TLS client: extra CA file and verification (turn off for test networks only). */
    tls_ca_file: Type.Optional(NonEmpty()),
    tls_verify: Type.Boolean({ default: true }),
  },
  strict,
);

export type SipOptions = Static<typeof SipOptionsSchema>;
