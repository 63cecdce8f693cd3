// JID value object with RFC 7622 preparation and XEP-0106 escaping.
export { escapeLocal, unescapeLocal } from './escaping.js';
export { Jid } from './jid.js';
export { JidError, prepareDomainpart, prepareLocalpart, preparePassword, prepareResourcepart } from './precis.js';
