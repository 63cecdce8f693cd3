// Federation interop with a real ejabberd 23.01 (Debian package `ejabberd`): see federation-suite.ts.
import { EjabberdPeer, ejabberdMissing } from '../helpers/peers/ejabberd.js';
import { federationSuite } from './federation-suite.js';

federationSuite({
  name: 'ejabberd',
  tag: 'ejabberd',
  missing: ejabberdMissing,
  // ejabberd resolves other servers with getaddrinfo(3) only: the Switchboard domain goes into /etc/hosts.
  needsEtcHosts: true,
  start: (opts) => EjabberdPeer.start(opts),
  versionName: /^ejabberd$/,
});
