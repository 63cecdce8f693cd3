// The gateway drivers this build ships, by config name (`gateways.<domain>.driver`). One line per driver; an
// explicit list, no filesystem scanning (DESIGN §3). The loopback driver of the framework's tests is not here.
import type { DriverDefinition } from './core/driver.js';
import { ircDriver } from './irc/driver.js';
import { sipDriver } from './sip/driver.js';

export const DRIVERS: readonly DriverDefinition[] = [ircDriver, sipDriver];
