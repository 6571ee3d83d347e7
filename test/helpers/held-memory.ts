// What this process still holds in memory, for tests that assert a server running in the same
// process keeps memory flat under hostile input: the JS heap plus the memory of live
// ArrayBuffers (Buffers), after full collections.
//
// Two collections, not one: V8 frees the memory of the ArrayBuffers that a collection found dead
// on a background thread after the collection returns (concurrent array buffer sweeping), and the
// next collection first waits for that sweep to finish. After a single collection,
// `arrayBuffers` still counts socket read chunks the server dropped long ago whenever that thread
// has not run yet: on a loaded machine, 18 MiB of the 48 MiB a test streamed through the server,
// and once in CI 35.6 MiB (issue 11). After two, it counts only Buffers that are still reachable.

import v8 from 'node:v8';
import vm from 'node:vm';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** The JS heap plus live Buffers, in bytes, after two full collections. */
export function heldBytes(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}
