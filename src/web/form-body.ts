// The body of a POSTed form (application/x-www-form-urlencoded, what an HTML form without
// enctype sends): read up to a bound in bytes and in time, never past it.

import type http from 'node:http';

/** Largest form body read: the longest form (password change) is far below it. */
export const FORM_BODY_LIMIT = 16 * 1024;
/** How long a client may take to send it. */
export const FORM_BODY_TIMEOUT_MS = 10_000;

export type FormOutcome = { form: URLSearchParams } | { refused: 400 | 408 | 413 | 415 };

export function readForm(
  req: http.IncomingMessage,
  opts: { limit?: number; timeoutMs?: number } = {},
): Promise<FormOutcome> {
  const limit = opts.limit ?? FORM_BODY_LIMIT;
  const type = (req.headers['content-type'] ?? '').split(';', 1)[0].trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') return Promise.resolve({ refused: 415 });
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.resolve({ refused: 413 });
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (outcome: FormOutcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      if ('refused' in outcome) req.pause();
      resolve(outcome);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) finish({ refused: 413 });
      else chunks.push(chunk);
    };
    const onEnd = (): void => {
      let text: string;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks, size));
      } catch {
        finish({ refused: 400 });
        return;
      }
      finish({ form: new URLSearchParams(text) });
    };
    const onError = (): void => finish({ refused: 400 });
    const timer = setTimeout(() => finish({ refused: 408 }), opts.timeoutMs ?? FORM_BODY_TIMEOUT_MS);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}
