// THREAD=ORDEREDSUBJECT (RFC 5256 §3): the messages sorted by base subject, then sent date; one
// thread per base subject; threads ordered by the sent date of their first message. The first
// message is the thread's root and every later one is a child of it (siblings of the second).
// Subjects are equal when their i;unicode-casemap keys are (unicode-casemap.ts).

import { compareSent, sortYielding, type SortRecord } from './sort-keys.js';
import { threadNode, type ThreadNode } from './thread-tree.js';
import { compareKeys } from './unicode-casemap.js';

export async function orderedSubjectThreads(
  records: SortRecord[],
  pause: () => Promise<void>,
): Promise<ThreadNode[]> {
  const sorted = await sortYielding(
    records.slice(),
    (a, b) => compareKeys(a.subjectKey, b.subjectKey) || compareSent(a, b),
    pause,
  );
  const roots: ThreadNode[] = [];
  let current: ThreadNode | null = null;
  for (const r of sorted) {
    if (current !== null && current.record!.subjectKey === r.subjectKey) {
      const child = threadNode(r);
      child.parent = current;
      current.children.push(child);
    } else {
      current = threadNode(r);
      roots.push(current);
    }
  }
  return sortYielding(roots, (a, b) => compareSent(a.record!, b.record!), pause);
}
