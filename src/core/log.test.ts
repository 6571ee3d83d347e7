import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from './log.js';

void test('secrets are redacted at any depth up to four levels; other fields are kept', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  const log = createLogger({ level: 'info' }, { destination: sink });
  log.info(
    {
      password: 'p1',
      user: 'alice',
      req: { headers: { authorization: 'Basic abc', host: 'x' } },
      auth: { saslResponse: 'AGFsaWNlAHB3', nested: { secret: 's', deeper: { password: 'p2' } } },
    },
    'login',
  );
  log.child({ conn: 'c1' }).debug({ password: 'hidden' }, 'not at this level');
  await new Promise((r) => setImmediate(r));
  assert.equal(lines.length, 1);
  const text = lines[0];
  for (const secret of ['p1', 'Basic abc', 'AGFsaWNlAHB3', '"s"', 'p2'])
    assert.ok(!text.includes(secret), secret);
  const obj = JSON.parse(text) as Record<string, unknown>;
  assert.equal(obj.user, 'alice');
  assert.equal(obj.msg, 'login');
  assert.equal(obj.password, '[redacted]');
  assert.equal((obj.req as { headers: { host: string } }).headers.host, 'x');
});
