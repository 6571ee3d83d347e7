// THREAD=REFERENCES (RFC 5256 §3, after Jamie Zawinski's algorithm): messages linked by
// Message-ID, References and In-Reply-To, then threads whose roots share a base subject merged.
// Invariants:
// - no recursion: trees can be as deep as the mailbox is large; every walk uses a stack;
// - no link ever makes a loop (each link is checked by walking up from the would-be parent);
// - a Message-ID is used by the first message (lowest sequence number) that has it; a later
//   message with the same or no Message-ID gets a container of its own (RFC 5256 step 1.A);
// - `pause` is awaited between pieces of work so a large mailbox does not stall the event loop.

import { compareSent, sortYielding, type SortRecord } from './sort-keys.js';
import { threadNode, type ThreadNode } from './thread-tree.js';

/**
 * Whether making `child` a child of `parent` would close a loop: `child` is `parent` or one of
 * its ancestors. Answered by walking up from `parent` and down `child`'s subtree in turns, and
 * stopping when either walk ends: the cost is that of the shorter one (a new message usually has
 * no children yet; a deep chain of replies makes the upward walk long).
 */
function wouldLoop(parent: ThreadNode, child: ThreadNode): boolean {
  let up: ThreadNode | null = parent;
  const down: ThreadNode[] = [child];
  for (;;) {
    if (up === null) return false;
    if (up === child) return true;
    up = up.parent;
    const n = down.pop();
    if (n === undefined) return false;
    if (n === parent) return true;
    for (const c of n.children) down.push(c);
  }
}

function unlink(child: ThreadNode): void {
  const p = child.parent;
  if (p === null) return;
  const i = p.children.indexOf(child);
  if (i !== -1) p.children.splice(i, 1);
  child.parent = null;
}

function link(parent: ThreadNode, child: ThreadNode): void {
  child.parent = parent;
  parent.children.push(child);
}

/** The message that stands for a container in date order: itself, or a dummy's first child. */
function representative(n: ThreadNode): SortRecord | null {
  return n.record ?? n.children[0]?.record ?? null;
}

function compareNodes(a: ThreadNode, b: ThreadNode): number {
  const ra = representative(a);
  const rb = representative(b);
  if (ra === null || rb === null) return ra === rb ? 0 : ra === null ? 1 : -1;
  return compareSent(ra, rb);
}

/** Every node below `roots`, parents before children. */
function allNodes(roots: readonly ThreadNode[]): ThreadNode[] {
  const out: ThreadNode[] = [];
  const stack = roots.slice();
  while (stack.length > 0) {
    const n = stack.pop()!;
    out.push(n);
    for (const c of n.children) stack.push(c);
  }
  return out;
}

/** `records` in sequence order; returns the threads' roots in order. */
export async function referencesThreads(
  records: readonly SortRecord[],
  pause: () => Promise<void>,
): Promise<ThreadNode[]> {
  // Step 1: containers by Message-ID.
  const byId = new Map<string, ThreadNode>();
  const containers: ThreadNode[] = [];
  const containerOf = (id: string): ThreadNode => {
    let c = byId.get(id);
    if (c === undefined) {
      c = threadNode(null);
      byId.set(id, c);
      containers.push(c);
    }
    return c;
  };
  let n = 0;
  for (const r of records) {
    // 1.A: the message's own container; a missing or duplicate Message-ID gets a unique one.
    let own: ThreadNode;
    const existing = r.messageId === null ? undefined : byId.get(r.messageId);
    if (r.messageId !== null && (existing === undefined || existing.record === null)) {
      own = containerOf(r.messageId);
      own.record = r;
    } else {
      own = threadNode(r);
      containers.push(own);
    }
    // RFC 5256 step 1: References, or else the first Message-ID of In-Reply-To.
    const refs = r.references.length > 0 ? r.references : r.inReplyTo !== null ? [r.inReplyTo] : [];
    // 1.B: link each reference to the next unless the child already has a parent or a loop results.
    let prev: ThreadNode | null = null;
    for (const id of refs) {
      const c = containerOf(id);
      if (prev !== null && c.parent === null && !wouldLoop(prev, c)) link(prev, c);
      prev = c;
    }
    // 1.C: the last reference is the parent (the old parent link is broken first), unless that
    // would make a loop.
    unlink(own);
    if (prev !== null && !wouldLoop(prev, own)) link(prev, own);
    if ((++n & 255) === 0) await pause();
  }

  // Step 2: the root set.
  let roots = containers.filter((c) => c.parent === null);

  // Step 3: prune dummies, children first (post-order with a stack).
  const order = allNodes(roots).reverse();
  let work = 0;
  for (const node of order) {
    if ((++work & 1023) === 0) await pause();
    const kids: ThreadNode[] = [];
    for (const c of node.children) {
      if (c.record !== null) kids.push(c);
      else for (const g of c.children) kids.push(g); // a dummy below the top level: promote
    }
    for (const k of kids) k.parent = node;
    node.children = kids;
  }
  await pause();
  const top: ThreadNode[] = [];
  for (const r of roots) {
    if (r.record !== null || r.children.length > 1) top.push(r);
    else if (r.children.length === 1) {
      // A dummy with one child at the top level: the child becomes a root.
      const only = r.children[0]!;
      only.parent = null;
      top.push(only);
    }
    // A dummy without children is dropped.
  }
  roots = top;

  // Step 4: sort a dummy's children, then the roots, by sent date.
  for (const r of roots) if (r.record === null) r.children.sort(compareNodes);
  roots = await sortYielding(roots, compareNodes, pause);

  // Step 5: merge threads whose subjects are the same.
  const subjectOf = (node: ThreadNode): string | null => {
    const rec = representative(node);
    if (rec === null || rec.subjectKey.length === 0) return null;
    return rec.subjectKey;
  };
  const table = new Map<string, ThreadNode>();
  for (const r of roots) {
    if ((++work & 1023) === 0) await pause();
    const s = subjectOf(r);
    if (s === null) continue;
    const old = table.get(s);
    if (old === undefined) table.set(s, r);
    else if (
      old.record !== null &&
      (r.record === null || (old.record.replyOrForward && !r.record.replyOrForward))
    ) {
      table.set(s, r);
    }
  }
  const merged: ThreadNode[] = [];
  const removed = new Set<ThreadNode>();
  const replaced = new Map<ThreadNode, ThreadNode>();
  for (const r of roots) {
    if ((++work & 1023) === 0) await pause();
    // A root already put under a new dummy (as the table's message) is not merged again.
    if (r.parent !== null) continue;
    const s = subjectOf(r);
    const t = s === null ? undefined : table.get(s);
    if (s === null || t === undefined || t === r) continue;
    if (r.record === null && t.record === null) {
      for (const c of r.children) link(t, c);
      r.children = [];
      removed.add(r);
    } else if (t.record === null) {
      link(t, r);
      removed.add(r);
    } else if (r.record !== null && r.record.replyOrForward && !t.record.replyOrForward) {
      link(t, r);
      removed.add(r);
    } else {
      const dummy = threadNode(null);
      replaced.set(t, dummy);
      link(dummy, t);
      link(dummy, r);
      removed.add(r);
      table.set(s, dummy);
    }
  }
  for (const r of roots) {
    if (removed.has(r)) continue;
    merged.push(replaced.get(r) ?? r);
  }
  await pause();

  // Step 6: sort every set of siblings by sent date, deepest first (a dummy's order comes from
  // its first child), then the roots.
  const nodes = allNodes(merged).reverse();
  for (const node of nodes) {
    if (node.children.length > 2048) node.children = await sortYielding(node.children, compareNodes, pause);
    else if (node.children.length > 1) node.children.sort(compareNodes);
    if ((++work & 1023) === 0) await pause();
  }
  return sortYielding(merged, compareNodes, pause);
}
