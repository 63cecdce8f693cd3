// The "limit" line: a minimal Node relay that forwards pre-framed stanzas between TLS sockets with no XML work.
// Frame: u32 payload length, u32 destination id, payload. A zero-length frame registers the sender under the id
// (answered with <ok/>). Payloads are forwarded as they are; writes to one destination within one read are
// coalesced, as a server would batch its output. Usage: relay.ts --port P --cert FILE --key FILE [--stats FILE]
// With --stats, SIGUSR2 writes the event-loop delay and garbage collections since the previous signal to FILE (JSON),
// as Switchboard's /metrics reports its own, so that the harness can tell the relay's pauses from the generator's.
import { readFileSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import tls from 'node:tls';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    stats: { type: 'string' },
  },
});
if (!values.port || !values.cert || !values.key) {
  console.error('usage: relay.ts --port P --cert FILE --key FILE [--host ADDRESS]');
  process.exit(2);
}

const peers: (tls.TLSSocket | undefined)[] = [];

function onConnection(socket: tls.TLSSocket): void {
  socket.setNoDelay(true);
  let rest: Buffer | null = null;
  const out = new Map<tls.TLSSocket, Buffer[]>();
  socket.on('data', (chunk: Buffer) => {
    const buf = rest ? Buffer.concat([rest, chunk]) : chunk;
    let off = 0;
    while (buf.length - off >= 8) {
      const len = buf.readUInt32BE(off);
      const dest = buf.readUInt32BE(off + 4);
      if (buf.length - off - 8 < len) break;
      if (len === 0) {
        peers[dest] = socket;
        socket.write('<ok/>');
      } else {
        const target = peers[dest];
        if (target) {
          let list = out.get(target);
          if (!list) {
            list = [];
            out.set(target, list);
          }
          list.push(buf.subarray(off + 8, off + 8 + len));
        }
      }
      off += 8 + len;
    }
    rest = off < buf.length ? buf.subarray(off) : null;
    for (const [target, list] of out) target.write(list.length === 1 ? (list[0] as Buffer) : Buffer.concat(list));
    out.clear();
  });
  socket.on('error', () => socket.destroy());
  socket.on('close', () => {
    for (let i = 0; i < peers.length; i++) if (peers[i] === socket) peers[i] = undefined;
  });
}

const statsFile = values.stats;
if (statsFile) {
  // The same resolution as prom-client's default in Switchboard (10 ms): a finer one would wake the relay more often.
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  let gcCount = 0;
  let gcMaxMs = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcCount++;
      gcMaxMs = Math.max(gcMaxMs, e.duration);
    }
  }).observe({ entryTypes: ['gc'] });
  process.on('SIGUSR2', () => {
    const ms = (ns: number): number => ns / 1e6;
    const stats = {
      loop: { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) },
      gcCount,
      gcMaxMs,
      at: Date.now(),
    };
    delay.reset();
    gcCount = 0;
    gcMaxMs = 0;
    writeFileSync(statsFile, JSON.stringify(stats));
  });
}

const server = tls.createServer({ cert: readFileSync(values.cert), key: readFileSync(values.key) }, onConnection);
server.listen(Number(values.port), values.host ?? '127.0.0.1');
const stop = (): void => {
  server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
