// The gateway driver conformance suite (gateways/testkit) for the IRC driver, with a private ngircd as the legacy
// network (spec/helpers/peers/ngircd-legacy-peer.ts). ngircd missing → skipped, or failed with REQUIRE_PEERS=1.
import { Value } from '@sinclair/typebox/value';
import pino from 'pino';
import { type IrcOptions, IrcOptionsSchema, ircDriver } from '../../gateways/irc/driver.js';
import { driverConformance } from '../../gateways/testkit/conformance.js';
import { NgircdLegacyPeer } from '../helpers/peers/ngircd-legacy-peer.js';

const conformancePeer = new NgircdLegacyPeer();
driverConformance(
  'irc (ngircd)',
  () =>
    ircDriver.create({
      domain: 'irc.localhost',
      options: Value.Default(IrcOptionsSchema, conformancePeer.driverOptions()) as IrcOptions,
      log: pino({ level: process.env.SB_TEST_LOG ?? 'silent' }),
    }),
  conformancePeer,
);
