// Typed errors (DESIGN §7). Expected protocol failures throw these; nothing else reaches the wire.
import { type Element, xml } from '../xml/element.js';
import { NS } from '../xml/ns.js';

/** RFC 6120 §8.3.3 defined stanza error conditions. */
export type StanzaErrorCondition =
  | 'bad-request'
  | 'conflict'
  | 'feature-not-implemented'
  | 'forbidden'
  | 'gone'
  | 'internal-server-error'
  | 'item-not-found'
  | 'jid-malformed'
  | 'not-acceptable'
  | 'not-allowed'
  | 'not-authorized'
  | 'policy-violation'
  | 'recipient-unavailable'
  | 'redirect'
  | 'registration-required'
  | 'remote-server-not-found'
  | 'remote-server-timeout'
  | 'resource-constraint'
  | 'service-unavailable'
  | 'subscription-required'
  | 'undefined-condition'
  | 'unexpected-request';

export type StanzaErrorType = 'auth' | 'cancel' | 'continue' | 'modify' | 'wait';

/** RFC 6120 §8.3.3: the error type each condition usually carries. */
const DEFAULT_TYPE: Record<StanzaErrorCondition, StanzaErrorType> = {
  'bad-request': 'modify',
  conflict: 'cancel',
  'feature-not-implemented': 'cancel',
  forbidden: 'auth',
  gone: 'cancel',
  'internal-server-error': 'cancel',
  'item-not-found': 'cancel',
  'jid-malformed': 'modify',
  'not-acceptable': 'modify',
  'not-allowed': 'cancel',
  'not-authorized': 'auth',
  'policy-violation': 'modify',
  'recipient-unavailable': 'wait',
  redirect: 'modify',
  'registration-required': 'auth',
  'remote-server-not-found': 'cancel',
  'remote-server-timeout': 'wait',
  'resource-constraint': 'wait',
  'service-unavailable': 'cancel',
  'subscription-required': 'auth',
  'undefined-condition': 'cancel',
  'unexpected-request': 'wait',
};

export class StanzaError extends Error {
  readonly condition: StanzaErrorCondition;
  readonly type: StanzaErrorType;
  readonly text: string | undefined;
  /** Application-specific condition element (RFC 6120 §8.3.4), optional. */
  readonly appCondition: Element | undefined;
  /** The entity that generated the error (RFC 6120 §8.3.2 'by'), optional. */
  readonly by: string | undefined;
  /**
   * For <gone/> and <redirect/> only: the new or alternate address (a URI, typically xmpp:) carried as the character
   * data of the condition element (RFC 6120 §8.3.3.5, §8.3.3.14), optional.
   */
  readonly uri: string | undefined;

  constructor(
    condition: StanzaErrorCondition,
    text?: string,
    opts: { type?: StanzaErrorType; app?: Element; by?: string; uri?: string } = {},
  ) {
    super(text ? `${condition}: ${text}` : condition);
    this.name = 'StanzaError';
    this.condition = condition;
    this.type = opts.type ?? DEFAULT_TYPE[condition];
    this.text = text;
    this.appCondition = opts.app;
    this.by = opts.by;
    this.uri = condition === 'gone' || condition === 'redirect' ? opts.uri : undefined;
  }

  static badRequest(text?: string) {
    return new StanzaError('bad-request', text);
  }
  static conflict(text?: string) {
    return new StanzaError('conflict', text);
  }
  static featureNotImplemented(text?: string) {
    return new StanzaError('feature-not-implemented', text);
  }
  static forbidden(text?: string) {
    return new StanzaError('forbidden', text);
  }
  static internal(text?: string) {
    return new StanzaError('internal-server-error', text);
  }
  static itemNotFound(text?: string) {
    return new StanzaError('item-not-found', text);
  }
  static jidMalformed(text?: string) {
    return new StanzaError('jid-malformed', text);
  }
  static notAcceptable(text?: string) {
    return new StanzaError('not-acceptable', text);
  }
  static notAllowed(text?: string) {
    return new StanzaError('not-allowed', text);
  }
  static notAuthorized(text?: string) {
    return new StanzaError('not-authorized', text);
  }
  static policyViolation(text?: string) {
    return new StanzaError('policy-violation', text);
  }
  static resourceConstraint(text?: string) {
    return new StanzaError('resource-constraint', text);
  }
  static serviceUnavailable(text?: string) {
    return new StanzaError('service-unavailable', text);
  }
  static remoteServerNotFound(text?: string) {
    return new StanzaError('remote-server-not-found', text);
  }
  static remoteServerTimeout(text?: string) {
    return new StanzaError('remote-server-timeout', text);
  }
  static recipientUnavailable(text?: string) {
    return new StanzaError('recipient-unavailable', text);
  }

  /** The <error/> child element (RFC 6120 §8.3.2). */
  toElement(): Element {
    return xml(
      'error',
      { type: this.type, by: this.by },
      xml(this.condition, { xmlns: NS.STANZAS_ERR }, this.uri ?? null),
      this.text ? xml('text', { xmlns: NS.STANZAS_ERR, 'xml:lang': 'en' }, this.text) : null,
      this.appCondition ?? null,
    );
  }
}

/** RFC 6120 §4.9.3 stream error conditions. */
export type StreamErrorCondition =
  | 'bad-format'
  | 'bad-namespace-prefix'
  | 'conflict'
  | 'connection-timeout'
  | 'host-gone'
  | 'host-unknown'
  | 'improper-addressing'
  | 'internal-server-error'
  | 'invalid-from'
  | 'invalid-namespace'
  | 'invalid-xml'
  | 'not-authorized'
  | 'not-well-formed'
  | 'policy-violation'
  | 'remote-connection-failed'
  | 'reset'
  | 'resource-constraint'
  | 'restricted-xml'
  | 'see-other-host'
  | 'system-shutdown'
  | 'undefined-condition'
  | 'unsupported-encoding'
  | 'unsupported-feature'
  | 'unsupported-stanza-type'
  | 'unsupported-version';

export class StreamError extends Error {
  readonly condition: StreamErrorCondition;
  readonly text: string | undefined;
  /** Application-specific condition element (RFC 6120 §4.9.4), optional. */
  readonly appCondition: Element | undefined;
  constructor(condition: StreamErrorCondition, text?: string, opts: { app?: Element } = {}) {
    super(text ? `${condition}: ${text}` : condition);
    this.name = 'StreamError';
    this.condition = condition;
    this.text = text;
    this.appCondition = opts.app;
  }
  /** The <stream:error/> element (RFC 6120 §4.9.2). */
  toElement(): Element {
    return xml(
      'stream:error',
      null,
      xml(this.condition, { xmlns: NS.STREAMS_ERR }),
      this.appCondition ?? null,
      this.text ? xml('text', { xmlns: NS.STREAMS_ERR, 'xml:lang': 'en' }, this.text) : null,
    );
  }
}

/** RFC 6120 §6.5 SASL failure conditions. */
export type SaslCondition =
  | 'aborted'
  | 'account-disabled'
  | 'credentials-expired'
  | 'encryption-required'
  | 'incorrect-encoding'
  | 'invalid-authzid'
  | 'invalid-mechanism'
  | 'malformed-request'
  | 'mechanism-too-weak'
  | 'not-authorized'
  | 'temporary-auth-failure';

export class SaslFailure extends Error {
  readonly condition: SaslCondition;
  readonly text: string | undefined;
  constructor(condition: SaslCondition, text?: string) {
    super(text ? `${condition}: ${text}` : condition);
    this.name = 'SaslFailure';
    this.condition = condition;
    this.text = text;
  }
  toElement(): Element {
    return xml(
      'failure',
      { xmlns: NS.SASL },
      xml(this.condition),
      this.text ? xml('text', { 'xml:lang': 'en' }, this.text) : null,
    );
  }
}

/** Stable error codes for operator-facing failures (docs/errors.md lists them). */
export type SwitchboardErrorCode =
  | 'SB_ERR_CONFIG_INVALID'
  | 'SB_ERR_CONFIG_NOT_FOUND'
  | 'SB_ERR_TLS_CERT'
  | 'SB_ERR_LISTEN'
  | 'SB_ERR_STORAGE'
  | 'SB_ERR_ACCOUNT_EXISTS'
  | 'SB_ERR_ACCOUNT_NOT_FOUND'
  | 'SB_ERR_JID_INVALID'
  | 'SB_ERR_MODULE'
  | 'SB_ERR_USAGE';

export class SwitchboardError extends Error {
  readonly code: SwitchboardErrorCode;
  constructor(code: SwitchboardErrorCode, message: string, opts?: { cause?: unknown }) {
    super(message, opts);
    this.name = 'SwitchboardError';
    this.code = code;
  }
}
