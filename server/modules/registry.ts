// The explicit list of modules (DESIGN §3: no filesystem scanning). Order here is load order among equals.
import type { ModuleDefinition } from '../core/module.js';
import session from './rfc3921-session/index.js';
import iq from './rfc6120-iq/index.js';
import message from './rfc6121-message/index.js';
import presence from './rfc6121-presence/index.js';
import roster from './rfc6121-roster/index.js';
import last from './xep-0012-last/index.js';
import disco from './xep-0030-disco/index.js';
import privateStorage from './xep-0049-private/index.js';
import vcard from './xep-0054-vcard/index.js';
import register from './xep-0077-register/index.js';
import version from './xep-0092-version/index.js';
import offline from './xep-0160-offline/index.js';
import blocking from './xep-0191-blocking/index.js';
import sm from './xep-0198-sm/index.js';
import ping from './xep-0199-ping/index.js';
import time from './xep-0202-time/index.js';
import carbons from './xep-0280-carbons/index.js';
import mam from './xep-0313-mam/index.js';
import csi from './xep-0352-csi/index.js';

export const MODULES: readonly ModuleDefinition[] = [
  iq,
  message,
  roster,
  presence,
  session,
  disco,
  ping,
  version,
  time,
  register,
  last,
  privateStorage,
  vcard,
  offline,
  blocking,
  sm,
  csi,
  mam,
  carbons,
] as ModuleDefinition[];

export function moduleSchemas(): Record<string, ModuleDefinition['options']> {
  return Object.fromEntries(MODULES.map((m) => [m.name, m.options]));
}
