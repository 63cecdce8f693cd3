// Unit: the common latency rate of the message scenario (scripts/bench/report.ts).
import assert from 'node:assert/strict';
import { type BenchReport, chooseCommonRate, type ServerResult, tableRows } from '../../../scripts/bench/report.js';
import type { MessageFigures } from '../../../scripts/bench/scenario-messages.js';

function messages(peak: number[], p99Common: number[] = []): MessageFigures {
  return {
    peak,
    serverCpuUsPerMsg: [],
    loadgenCpuAtPeak: [],
    lost: 0,
    latencyRate: 0,
    p50: [],
    p99: [],
    p999: [],
    latencyLost: 0,
    serverBusyAtHalf: [],
    commonRate: 1000,
    p50Common: [],
    p99Common,
  };
}

function server(name: ServerResult['name'], m?: MessageFigures): ServerResult {
  return { name, version: '', errors: {}, ...(m ? { messages: m } : {}) };
}

function report(servers: ServerResult[], commonRate?: BenchReport['commonRate']): BenchReport {
  return {
    date: '',
    command: '',
    quick: true,
    runs: 1,
    machine: {},
    scale: {
      loginUsers: 1,
      loginConcurrency: 1,
      pairs: 1,
      presenceUsers: 1,
      contacts: 1,
      idleSteps: [],
      commonRate: 1000,
    },
    servers,
    notRun: {},
    ...(commonRate ? { commonRate } : {}),
  };
}

describe('bench common latency rate', () => {
  it('is half of the better median peak of Prosody and ejabberd, whatever Switchboard and the relay reach', () => {
    const c = chooseCommonRate(
      [
        server('switchboard', messages([60_000])),
        server('prosody', messages([4000, 3500, 4600])),
        server('ejabberd', messages([14_569, 14_443, 15_051])),
        server('relay', messages([127_000])),
      ],
      1000,
    );
    assert.deepEqual(c, { rate: 7285, basis: 'competitor', from: 'ejabberd', peak: 14_569 });
  });

  it('falls back to the configured rate without a competitor peak', () => {
    assert.deepEqual(chooseCommonRate([server('switchboard', messages([60_000]))], 1000), {
      rate: 1000,
      basis: 'configured',
    });
    // A competitor whose message scenario failed has no peak.
    assert.equal(
      chooseCommonRate([server('switchboard', messages([60_000])), server('prosody')], 1000).basis,
      'configured',
    );
  });

  it('labels the rows with the rate and where it came from', () => {
    const servers = [server('switchboard', messages([60_000], [3.5])), server('ejabberd', messages([14_569], [4.5]))];
    const chosen = tableRows(report(servers, chooseCommonRate(servers, 1000)));
    const row = chosen.find((r) => r.figure.startsWith('latency p99 at 7,285 msg/s'));
    assert.ok(row, chosen.map((r) => r.figure).join('\n'));
    assert.match(row.figure, /50% of the better competitor's peak \(ejabberd, 14,569 msg\/s; all servers\)/);
    assert.equal(row.values.switchboard?.median, 3.5);
    assert.ok(chosen.some((r) => r.figure === 'latency p99 at 50% of own peak, ms'));
    const alone = tableRows(report([servers[0] as ServerResult], chooseCommonRate([servers[0] as ServerResult], 1000)));
    assert.ok(alone.some((r) => /^latency p50 at 1,000 msg\/s = configured rate/.test(r.figure)));
    // Reports written before the choice existed keep their old label.
    assert.ok(tableRows(report(servers)).some((r) => r.figure === 'latency p99 at 1,000 msg/s (all servers), ms'));
  });
});
