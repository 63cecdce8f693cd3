import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../../server/observability/logger.js';

/** A destination that keeps the JSON lines written to it. */
function capture(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  const lines = () =>
    chunks
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { stream, lines };
}

describe('logger', () => {
  it('writes JSON lines with level names and ISO times', () => {
    const out = capture();
    const log = createLogger({ level: 'info' }, out.stream);
    log.info({ user: 'alice' }, 'hello');
    log.debug('not written at info');
    const [line, ...rest] = out.lines();
    assert.equal(rest.length, 0);
    assert.equal(line?.level, 'info');
    assert.equal(line?.msg, 'hello');
    assert.equal(line?.user, 'alice');
    assert.match(String(line?.time), /^\d{4}-\d{2}-\d{2}T/);
  });

  it('redacts passwords, SASL exchanges, payloads and authorization values', () => {
    const out = capture();
    const log = createLogger({ level: 'debug' }, out.stream);
    log.info({ username: 'alice', password: 'hunter2' }, 'register');
    log.child({ session: 's1' }).debug({ account: { password: 'hunter2', name: 'bob' }, sasl: 'cD1oaWRkZW4=' }, 'auth');
    log.info({ payload: '<message><body>secret</body></message>', stanza: { payload: 'secret' } }, 'routed');
    log.info({ authorization: 'Basic eA==', req: { authorization: 'Bearer t' } }, 'http');
    const text = JSON.stringify(out.lines());
    for (const secret of ['hunter2', 'cD1oaWRkZW4=', 'secret', 'Basic', 'Bearer']) {
      assert.ok(!text.includes(secret), `"${secret}" leaked into the log`);
    }
    const [register, auth] = out.lines();
    assert.equal(register?.password, '[redacted]');
    assert.equal(register?.username, 'alice');
    assert.deepEqual(auth?.account, { password: '[redacted]', name: 'bob' });
    assert.equal(auth?.sasl, '[redacted]');
  });
});
