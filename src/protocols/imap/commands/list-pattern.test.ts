import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ListPattern } from './list-pattern.js';

void describe('ListPattern', () => {
  void it('"*" crosses the delimiter, "%" does not', () => {
    const star = new ListPattern('a*');
    assert.ok(star.matches('a') && star.matches('ab') && star.matches('a/b/c'));
    assert.ok(!star.matches('b'));
    const pct = new ListPattern('a%');
    assert.ok(pct.matches('a') && pct.matches('abc'));
    assert.ok(!pct.matches('a/b'));
    const mid = new ListPattern('a/%/c');
    assert.ok(mid.matches('a/b/c') && mid.matches('a//c'));
    assert.ok(!mid.matches('a/b/x/c'));
    assert.ok(new ListPattern('*').matches('x/y/z'));
    assert.ok(new ListPattern('%').matches('') && !new ListPattern('%').matches('x/y'));
  });

  void it('literals are case-sensitive except INBOX', () => {
    assert.ok(new ListPattern('Sent').matches('Sent'));
    assert.ok(!new ListPattern('sent').matches('Sent'));
    assert.ok(new ListPattern('inbox').matches('INBOX'));
    assert.ok(new ListPattern('InBox/%').matches('INBOX/x'));
    assert.ok(new ListPattern('i*').matches('INBOX'));
    assert.ok(!new ListPattern('inboxes').matches('INBOX'));
    assert.ok(!new ListPattern('inbox').matches('Inbox2'));
  });

  void it('collapses runs of wildcards', () => {
    assert.equal(new ListPattern('a*%*%b%%c').pattern, 'a*b%c');
  });

  void it('matches in time linear in the product of lengths, even for hostile patterns', () => {
    const name = 'a'.repeat(1000);
    const bomb = new ListPattern('*a'.repeat(400) + 'b');
    const t = performance.now();
    for (let i = 0; i < 20; i++) assert.ok(!bomb.matches(name));
    assert.ok(performance.now() - t < 2000, `${performance.now() - t} ms`);
    assert.ok(new ListPattern('*a'.repeat(400)).matches(name));
    assert.ok(!new ListPattern('x'.repeat(1001) + '*').matches('x'.repeat(1000)));
  });
});
