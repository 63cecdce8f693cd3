// Parts of the server beyond client streams — federation, external components, gateways — each wired to the
// Server here, in an explicit list (DESIGN §3: no scanning). A subsystem may open listeners of its own types
// (config `listeners[].type`), add routes to the route table, and install the router's remote sender.
import { gatewaySubsystem } from '../../gateways/core/subsystem.js';
import { componentSubsystem } from '../component/index.js';
import type { ListenerConfig } from '../config/index.js';
import { createFederation } from '../s2s/federation.js';
import type { BoundListener } from '../stream/listeners.js';
import type { Server } from './server.js';

export interface Subsystem {
  readonly name: string;
  /** Runs once after the hosts and their modules are loaded, before listeners open. */
  setup?(): Promise<void>;
  /** Opens a listener for one config entry, or returns null when the type is not this subsystem's. */
  listen?(l: ListenerConfig): Promise<BoundListener | null>;
  /** Closes the subsystem's streams and timers; runs after client sessions are closed. */
  stop?(): Promise<void>;
}

export type SubsystemFactory = (server: Server) => Subsystem;

export const SUBSYSTEMS: readonly SubsystemFactory[] = [componentSubsystem, gatewaySubsystem, createFederation];
