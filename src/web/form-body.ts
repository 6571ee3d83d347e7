// The body of a POSTed form (application/x-www-form-urlencoded, what an HTML form without
// enctype sends): read up to a bound in bytes and in time, never past it.

import type http from 'node:http';
import { readBody } from '../server/http-routes.js';

/** Largest form body read: the longest form (password change) is far below it. */
export const FORM_BODY_LIMIT = 16 * 1024;
/** How long a client may take to send it. */
export const FORM_BODY_TIMEOUT_MS = 10_000;

export type FormOutcome = { form: URLSearchParams } | { refused: 400 | 408 | 413 | 415 };

export async function readForm(
  req: http.IncomingMessage,
  opts: { limit?: number; timeoutMs?: number } = {},
): Promise<FormOutcome> {
  const limit = opts.limit ?? FORM_BODY_LIMIT;
  const type = (req.headers['content-type'] ?? '').split(';', 1)[0].trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') return { refused: 415 };
  const outcome = await readBody(req, limit, opts.timeoutMs ?? FORM_BODY_TIMEOUT_MS);
  if ('refused' in outcome) return outcome;
  try {
    return { form: new URLSearchParams(new TextDecoder('utf-8', { fatal: true }).decode(outcome.body)) };
  } catch {
    return { refused: 400 };
  }
}
