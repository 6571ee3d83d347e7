// Runs node's test runner on every *.test.js file under the given directories of dist/.
// Node 20 takes a directory as a search root but Node 22 and later take glob patterns instead,
// so the files are listed here and passed explicitly: the same command works on 20, 22 and 24.
// --test-timeout (default 10 minutes) makes a hung test fail in minutes, named, not at CI's job
// limit. Node 20 applies it to each test file as a whole (Node 22 and later to each test), so
// it must exceed the slowest file on a loaded 2-core machine, not only the slowest test.
// Usage: node dist/test/run-tests.js [--concurrency N] [--test-timeout MS] DIR...

import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

function testFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...testFiles(full));
    else if (entry.name.endsWith('.test.js')) found.push(full);
  }
  return found.sort();
}

const args = process.argv.slice(2);
let concurrency = '2';
let timeoutMs = '600000';
const dirs: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--concurrency') concurrency = args[++i] ?? concurrency;
  else if (args[i] === '--test-timeout') timeoutMs = args[++i] ?? timeoutMs;
  else dirs.push(args[i]!);
}
const files = dirs.flatMap(testFiles);
if (files.length === 0) {
  process.stderr.write(`no test files under ${dirs.join(' ')}\n`);
  process.exit(1);
}
const runnerArgs = ['--test', `--test-concurrency=${concurrency}`, `--test-timeout=${timeoutMs}`];
const child = spawn(process.execPath, [...runnerArgs, ...files], {
  stdio: 'inherit',
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
