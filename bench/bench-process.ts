// The life of one benchmark process, shared by bench/*.ts: undo actions (stop a server, remove
// a directory) run in reverse order when the benchmark ends however it ends, SIGINT and SIGTERM
// included; progress goes to stderr with the time of day, figures to stdout; a failure prints
// its stack and sets the exit status.

import os from 'node:os';

const undo: Array<{ what: string; run: () => Promise<void> }> = [];

/** Registers an undo action; they run last-registered first. */
export function onCleanup(what: string, run: () => Promise<void>): void {
  undo.push({ what, run });
}

/** Runs (and forgets) every undo action registered so far; failures are reported, not thrown. */
export async function cleanUp(): Promise<void> {
  while (undo.length > 0) {
    const c = undo.pop()!;
    try {
      await c.run();
    } catch (err) {
      process.stderr.write(`cleanup (${c.what}) failed: ${String(err)}\n`);
    }
  }
}

/** Runs main, then the undo actions; `name` prefixes the failure message. */
export async function runBench(name: string, main: () => Promise<void>): Promise<void> {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`${signal}: cleaning up\n`);
      void cleanUp().finally(() => process.exit(130));
    });
  }
  try {
    await main();
  } catch (err) {
    process.stderr.write(`${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  } finally {
    await cleanUp();
  }
}

/** A progress line on stderr. */
export function log(s: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Cores, CPU model, memory, Node version and load average: the head line of a report. */
export function describeMachine(): string {
  const cpus = os.cpus();
  const load = os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
  return (
    `${cpus.length} x ${cpus[0]?.model ?? '?'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ` +
    `Node ${process.version}, load average ${load}`
  );
}

/** One workload of a benchmark, run on every server in turn. */
export interface BenchPhase<T> {
  /** The letter it is reported and skipped by (--skip a,c). */
  key: string;
  /** For the progress line. */
  describe: string;
  run: (target: T) => Promise<void>;
}

/**
 * Runs the phases in order, each on every target before the next phase (one server measured
 * at a time). A phase that throws is reported through `failed` and the run goes on.
 */
export async function runPhases<T extends { name: string }>(
  targets: readonly T[],
  phases: ReadonlyArray<BenchPhase<T>>,
  opts: { skip: ReadonlySet<string>; failed: (target: T, message: string) => void },
): Promise<void> {
  for (const phase of phases) {
    if (opts.skip.has(phase.key)) continue;
    for (const t of targets) {
      log(`${t.name}: (${phase.key}) ${phase.describe}`);
      try {
        await phase.run(t);
      } catch (err) {
        const message = `(${phase.key}): ${err instanceof Error ? err.message : String(err)}`;
        opts.failed(t, message);
        log(`${t.name}: FAILED ${message}`);
      }
    }
  }
}
