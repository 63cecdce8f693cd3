// The driver conformance suite (gateways/testkit) run against the in-memory loopback driver: it checks the suite
// itself, and keeps the loopback driver used by the framework's conversation spec honest.
import { driverConformance } from '../../../gateways/testkit/conformance.js';
import { LoopbackNetwork, LoopbackPeer, loopbackDriver } from '../../helpers/loopback-gateway.js';

const net = new LoopbackNetwork();
driverConformance('loopback', () => loopbackDriver(net), new LoopbackPeer(net));
