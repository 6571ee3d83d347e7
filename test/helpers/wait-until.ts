// Waiting for a condition instead of for a time: a test that sleeps a fixed time either waits
// too long or, on a loaded machine, not long enough. The condition is checked every few
// milliseconds until it holds or the deadline passes (then the test fails, naming it).

export interface WaitUntilOptions {
  /** What is awaited, for the failure message. */
  what: string;
  /** Default 10 s: generous for a loaded machine, short enough to fail a test quickly. */
  timeoutMs?: number;
  /** Default 10 ms. */
  intervalMs?: number;
}

/** Resolves when `check` returns true; rejects after the timeout. */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  opts: WaitUntilOptions,
): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what}`);
    await new Promise((resolve) => setTimeout(resolve, opts.intervalMs ?? 10));
  }
}
