import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runPython } from '../../test/helpers/python.js';
import { POSTERN_NAMESPACE, nameBasedUuid } from './name-based-uuid.js';

void test("version 5 UUIDs equal python3's uuid.uuid5 (RFC 9562 §5.5)", async () => {
  const names = ['', 'a', 'mobileconfig profile mail.example.org someone@example.org', 'é✓'];
  const dns = '6ba7b810-9dad-11d1-80b4-00c04fd430c8'; // RFC 9562's DNS namespace
  const script = `
import sys, json, uuid
req = json.load(sys.stdin)
print(json.dumps([str(uuid.uuid5(uuid.UUID(ns), name)).upper() for ns, name in req]))
`;
  const pairs: Array<[string, string]> = [
    ...names.map((n): [string, string] => [POSTERN_NAMESPACE, n]),
    [dns, 'www.example.com'],
  ];
  const expected = JSON.parse(await runPython(script, JSON.stringify(pairs))) as string[];
  assert.deepEqual(
    pairs.map(([ns, name]) => nameBasedUuid(name, ns)),
    expected,
  );
  assert.equal(nameBasedUuid('x'), nameBasedUuid('x'), 'stable');
  assert.notEqual(nameBasedUuid('x'), nameBasedUuid('y'));
});
