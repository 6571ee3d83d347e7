// RFC 5256 §2.1 base subject, used by SORT SUBJECT and THREAD ORDEREDSUBJECT/REFERENCES.
// Works on indices into one string (no repeated slicing), and remembers that a failed subj-leader
// match stays failed after a subj-blob is removed, so hostile input ("[a][a][a]...") stays linear.

function isWsp(c: string): boolean {
  return c === ' ' || c === '\t';
}

/** Step 1: the caller has decoded RFC 2047 words; turn tabs and line breaks into spaces, collapse runs. */
function collapse(s: string): string {
  let out = '';
  let space = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      space = true;
    } else {
      if (space && out !== '') out += ' ';
      space = false;
      out += c;
    }
  }
  if (space && out !== '') out += ' ';
  return out;
}

/** Returns the base subject of an already RFC 2047-decoded subject. */
export function baseSubject(decoded: string): string {
  return extractBaseSubject(decoded).subject;
}

/**
 * The base subject and whether the subject marks a reply or forward: RFC 5256 §2.1 counts a
 * message as one when the extraction removed a subj-refwd, a "(fwd)" subj-trailer, or a
 * subj-fwd-hdr with its subj-fwd-trl (THREAD=REFERENCES step 5 uses it).
 */
export function extractBaseSubject(decoded: string): { subject: string; replyOrForward: boolean } {
  let replyOrForward = false;
  const s = collapse(decoded);
  let a = 0;
  let b = s.length;
  const lower = s.toLowerCase();

  // subj-blob = "[" *BLOBCHAR "]" *WSP ; BLOBCHAR = any CHAR except "[" and "]"
  const blob = (p: number): number => {
    if (p >= b || s[p] !== '[') return -1;
    let q = p + 1;
    while (q < b && s[q] !== '[' && s[q] !== ']') q++;
    if (q >= b || s[q] !== ']') return -1;
    q++;
    while (q < b && isWsp(s[q])) q++;
    return q;
  };
  // subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
  const refwd = (p: number): number => {
    let q: number;
    if (lower.startsWith('re', p)) q = p + 2;
    else if (lower.startsWith('fwd', p)) q = p + 3;
    else if (lower.startsWith('fw', p)) q = p + 2;
    else return -1;
    if (q > b) return -1; // the prefix runs past the trimmed end
    while (q < b && isWsp(s[q])) q++;
    const after = blob(q);
    if (after !== -1) q = after;
    if (q < b && s[q] === ':') {
      replyOrForward = true;
      return q + 1;
    }
    return -1;
  };
  // subj-leader = (*subj-blob subj-refwd) / WSP
  const leader = (p: number): number => {
    if (p < b && isWsp(s[p])) return p + 1;
    let q = p;
    for (;;) {
      const r = refwd(q);
      if (r !== -1) return r;
      const n = blob(q);
      if (n === -1) return -1;
      q = n;
    }
  };

  for (;;) {
    // Step 2: remove trailing subj-trailer = "(fwd)" / WSP.
    for (;;) {
      if (b > a && isWsp(s[b - 1])) b--;
      else if (b - a >= 5 && lower.startsWith('(fwd)', b - 5)) {
        b -= 5;
        replyOrForward = true;
      } else break;
    }
    // Step 3: remove every subj-leader prefix.
    for (;;) {
      const n = leader(a);
      if (n === -1) break;
      a = n;
    }
    // Steps 4 and 5: remove a subj-blob prefix while something remains. A leader that failed at
    // one blob of a chain fails at the next one too, so step 3 needs no retry here.
    for (;;) {
      const n = blob(a);
      if (n === -1 || n >= b) break;
      a = n;
    }
    // Step 6: "[fwd:" ... "]"
    if (b - a >= 6 && lower.startsWith('[fwd:', a) && s[b - 1] === ']') {
      a += 5;
      b -= 1;
      replyOrForward = true;
      continue;
    }
    break;
  }
  return { subject: s.slice(a, b), replyOrForward };
}
