// Runs a Python 3 script (python3 is on every machine the tests run on) with bytes on its stdin
// and resolves with its stdout; rejects with its stderr when it exits non-zero or runs too long.

import { spawn } from 'node:child_process';

export function runPython(script: string, stdin: string | Buffer, timeoutMs = 20_000): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const child = spawn('python3', ['-c', script], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`python3 exited ${code}: ${stderr}`));
    });
    child.stdin.end(stdin);
  });
}
