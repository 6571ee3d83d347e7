// better-sqlite3 12 on Node 24 aborts the process (a failed CHECK in
// node::RemoveEnvironmentCleanupHook) when the garbage collector destroys a prepared Statement
// at a moment when no JavaScript context is entered. No Statement object may therefore ever
// become garbage: every statement the store prepares is cached by its SQL (a bounded set) and
// also pinned here for the life of the process, and PRAGMAs run through exec() or a cached
// statement, never through db.pragma(), which prepares a throw-away statement on each call.

const pinned: unknown[] = [];

/** Keeps `value` reachable until the process exits; returns it. */
export function pin<T>(value: T): T {
  pinned.push(value);
  return value;
}
