// Dialback on an inbound stream (XEP-0220 §2.2): the receiving role (<db:result/> from an initiating server,
// verified with the sender domain's authoritative server) and the authoritative role (<db:verify/> about keys
// we issued). Answers (elements with a 'type') are never expected here and are ignored (XEP-0220 §3.1).
import { StreamError } from '../errors/index.js';
import { type DialbackElement, dialbackElement, dialbackError } from './dialback.js';
import type { InboundStream } from './inbound.js';
import { prepareDomainOrNull } from './stream.js';

export function handleDialback(s: InboundStream, db: DialbackElement): void {
  if (db.type !== undefined) {
    // XEP-0220 §2.2 and §3.1: without XEP-0288, requests on an inbound stream carry no 'type'; an answer here
    // matches no request of ours (ours go out on outbound streams), so acting on it would allow spoofing.
    s.log.info({ kind: db.kind, from: db.from, to: db.to, type: db.type }, 'ignored an unsolicited dialback answer');
    return;
  }
  if (db.kind === 'verify') authoritative(s, db);
  else receiving(s, db);
}

/** XEP-0220 §2.2.2: tell the receiving server whether we generated this key for (from, to, id). */
function authoritative(s: InboundStream, db: DialbackElement): void {
  const to = prepareDomainOrNull(db.to);
  const from = prepareDomainOrNull(db.from);
  if (!to || !from || !s.deps.served(to)) {
    s.send(dialbackError(db, 'item-not-found', `${db.to} is not served here`));
    return;
  }
  // The receiving server is 'from', we (the originating side) are 'to' (XEP-0220 §2.1.2, Example 5).
  const valid = s.deps.keys.verify(from, to, db.id ?? '', db.key);
  s.log.info({ receiving: from, originating: to, valid }, 'answered a dialback verification request');
  s.send(dialbackElement('verify', { from: to, to: from, id: db.id, type: valid ? 'valid' : 'invalid' }));
}

/** XEP-0220 §2.2.1: an initiating server asks to send stanzas from `db.from` (sender) to `db.to` (target). */
function receiving(s: InboundStream, db: DialbackElement): void {
  const refusal = refuse(s, db);
  if (refusal) {
    s.log.warn(
      { sender: db.from, target: db.to, condition: refusal.condition, reason: refusal.text },
      'dialback refused',
    );
    s.send(dialbackError(db, refusal.condition, refusal.text));
    return;
  }
  const sender = prepareDomainOrNull(db.from) ?? '';
  const target = prepareDomainOrNull(db.to) ?? '';
  const pair = `${sender} ${target}`;
  const answer = (type: 'valid' | 'invalid') => s.send(dialbackElement('result', { from: target, to: sender, type }));
  if (s.authorized.get(sender)?.has(target)) {
    answer('valid');
    return;
  }
  if (s.pendingResults.has(pair)) return;
  // XEP-0220 §2.2.1 lets the receiving server use any method: a certificate that already proves the sender
  // domain (as XEP-0344 describes) makes asking its authoritative server unnecessary.
  if (s.peerCheck(sender).valid) {
    s.authorize(sender, target, 'dialback (certificate)');
    answer('valid');
    return;
  }
  s.pendingResults.add(pair);
  const streamId = s.streamId;
  s.deps.verify(target, sender, streamId, db.key).then(
    (outcome) => {
      s.pendingResults.delete(pair);
      if (s.isClosed || streamId !== s.streamId) return;
      if (outcome.type === 'valid') {
        s.authorize(sender, target, 'dialback');
        answer('valid');
      } else if (outcome.type === 'invalid') {
        // XEP-0220 §2.2.1: an invalid key means spoofing: log it, say so, and close the stream.
        s.log.warn({ sender, target }, 'dialback key rejected by the authoritative server; closing');
        answer('invalid');
        s.close();
      } else {
        s.send(dialbackError(db, outcome.condition, `could not verify ${sender} with its authoritative server`));
      }
    },
    (err: unknown) => {
      s.pendingResults.delete(pair);
      s.log.error({ err }, 'dialback verification crashed');
      s.close(new StreamError('internal-server-error'));
    },
  );
}

/** XEP-0220 §2.5: conditions under which a dialback request is refused before any verification. */
function refuse(
  s: InboundStream,
  db: DialbackElement,
): { condition: 'item-not-found' | 'policy-violation' | 'not-authorized'; text: string } | null {
  const cfg = s.deps.config;
  const sender = prepareDomainOrNull(db.from);
  const target = prepareDomainOrNull(db.to);
  if (!target || !s.deps.served(target)) return { condition: 'item-not-found', text: `${db.to} is not served here` };
  if (!s.secure && cfg.require_tls) return { condition: 'policy-violation', text: 'start TLS before dialback' };
  if (!sender || s.deps.served(sender)) return { condition: 'not-authorized', text: `${db.from} cannot be verified` };
  if (!cfg.dialback) return { condition: 'not-authorized', text: 'dialback is disabled here' };
  if (!s.deps.policy.allows(target, sender)) {
    return { condition: 'not-authorized', text: `${target} does not federate with ${sender}` };
  }
  if (cfg.require_valid_certificates && !s.peerCheck(sender).valid) {
    return { condition: 'not-authorized', text: 'a certificate valid for the sender domain is required' };
  }
  return null;
}
