// Federation interop with a real Prosody 0.12 (Debian package `prosody`): see federation-suite.ts.
import { ProsodyPeer, prosodyMissing } from '../helpers/peers/prosody.js';
import { federationSuite } from './federation-suite.js';

federationSuite({
  name: 'Prosody',
  tag: 'prosody',
  missing: prosodyMissing,
  // Prosody reads a private hosts file through libunbound (`unbound = { hoststxt = … }`).
  needsEtcHosts: false,
  start: (opts) => ProsodyPeer.start(opts),
  versionName: /^Prosody$/,
});
