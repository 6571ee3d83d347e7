// The tree THREAD answers with (RFC 5256 §4 thread-data), shared by both algorithms, and its
// rendering. A node is a message or, at the top level of REFERENCES only, a dummy (a message
// that is referenced but not in the result). Trees can be as deep as the mailbox is large (a
// chain of replies), so nothing here recurses: every walk uses an explicit stack.

import type { SortRecord } from './sort-keys.js';

export interface ThreadNode {
  /** Null for a dummy. */
  record: SortRecord | null;
  parent: ThreadNode | null;
  children: ThreadNode[];
}

export function threadNode(record: SortRecord | null): ThreadNode {
  return { record, parent: null, children: [] };
}

/**
 * One thread as `(n n (n)(n n))` (RFC 5256 §4: thread-members, then thread-nested when a message
 * has several children; a dummy shows only its children), in pieces of about `nodesPerPiece`
 * messages, so a caller can yield between them (one thread may hold the whole mailbox).
 * `number` gives the UID or sequence number.
 */
export function* threadPieces(
  root: ThreadNode,
  number: (r: SortRecord) => number,
  nodesPerPiece = 4096,
): Generator<string> {
  let out = '(';
  let nodes = 0;
  const stack: Array<ThreadNode | string> = [root];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (typeof item === 'string') {
      out += item;
      continue;
    }
    let sep = '';
    if (item.record !== null) {
      out += String(number(item.record));
      sep = ' ';
    }
    const kids = item.children;
    if (kids.length === 1) {
      out += sep;
      stack.push(kids[0]!);
    } else if (kids.length > 1) {
      out += sep;
      for (let i = kids.length - 1; i >= 0; i--) stack.push(')', kids[i]!, '(');
    }
    if (++nodes === nodesPerPiece) {
      yield out;
      out = '';
      nodes = 0;
    }
  }
  yield out + ')';
}

/** One thread as a string (threadPieces joined). */
export function renderThread(root: ThreadNode, number: (r: SortRecord) => number): string {
  let out = '';
  for (const piece of threadPieces(root, number)) out += piece;
  return out;
}
