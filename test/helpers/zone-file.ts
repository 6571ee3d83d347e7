// Reads the zone-file lines `postern dns` prints, for tests: each line that is not a comment
// or empty is `owner TTL IN type rdata`; TXT rdata is quoted strings (RFC 1035 §5.1).

import assert from 'node:assert/strict';

export interface ZoneLine {
  /** Without the trailing dot. */
  name: string;
  ttl: number;
  type: string;
  data: string;
}

export function parseZone(text: string): ZoneLine[] {
  const out: ZoneLine[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith(';')) continue;
    const m = /^(\S+)\. (\d+) IN (MX|TXT|SRV|CNAME) (.+)$/.exec(line);
    assert.ok(m !== null, `not a zone line: ${line}`);
    out.push({ name: m[1]!, ttl: Number(m[2]), type: m[3]!, data: m[4]! });
  }
  return out;
}

/** TXT rdata back to its character-strings and their concatenation (\X and \DDD escapes undone). */
export function unquoteTxt(data: string): { strings: string[]; text: string } {
  const strings: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"/g;
  let rest = data;
  for (let m = re.exec(data); m !== null; m = re.exec(data)) {
    strings.push(
      m[1]!.replace(/\\(\d{3}|.)/g, (_, e: string) => (e.length === 3 ? String.fromCharCode(Number(e)) : e)),
    );
    rest = rest.replace(m[0], '');
  }
  assert.equal(rest.trim(), '', `only quoted strings in ${data}`);
  return { strings, text: strings.join('') };
}
