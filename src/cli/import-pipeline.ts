// Runs deliveries for a stream of messages with bounded concurrency: at most `concurrency`
// messages and `maxBytesInFlight` buffered bytes at once (always at least one message), so
// the store's group commit batches them while memory stays bounded. Messages are pulled from
// the source only when a slot is free, which gives backpressure on the input file.

export interface PipelineItem {
  /** Bytes held in memory for this item (0 for items streamed from a file). */
  bufferedBytes: number;
}

export interface PipelineOptions<T extends PipelineItem> {
  concurrency: number;
  maxBytesInFlight: number;
  deliver: (item: T) => Promise<void>;
  /** Called once per item, in completion order, with the error if it failed. */
  onSettled: (item: T, error: unknown) => void;
}

export async function runPipeline<T extends PipelineItem>(
  items: AsyncIterable<T>,
  opts: PipelineOptions<T>,
): Promise<void> {
  const inFlight = new Set<Promise<void>>();
  let bytes = 0;
  for await (const item of items) {
    while (
      inFlight.size > 0 &&
      (inFlight.size >= opts.concurrency || bytes + item.bufferedBytes > opts.maxBytesInFlight)
    ) {
      await Promise.race(inFlight);
    }
    bytes += item.bufferedBytes;
    const p: Promise<void> = opts
      .deliver(item)
      .then(
        () => opts.onSettled(item, null),
        (err: unknown) => opts.onSettled(item, err ?? new Error('delivery failed')),
      )
      .finally(() => {
        bytes -= item.bufferedBytes;
        inFlight.delete(p);
      });
    inFlight.add(p);
  }
  await Promise.all(inFlight);
}
