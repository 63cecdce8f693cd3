// The archive service other modules may consult (carbons put the sender's archive id into sent copies).
import type { Element } from '../../xml/element.js';

export interface MamService {
  /**
   * XEP-0313 §3.5: the id under which the sender's archive stored this outgoing message (the very element of the
   * 'pre-message/*' event, after archiving), or undefined when it was not archived.
   */
  sentArchiveId(stanza: Element): string | undefined;
}

declare module '../../core/module.js' {
  interface Services {
    mam: MamService;
  }
}
