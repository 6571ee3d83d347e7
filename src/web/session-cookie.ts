// The session cookie of the user's page. RFC 6265 §4.1: HttpOnly keeps it from scripts,
// Secure (on the https listener) from plain connections; SameSite=Strict (RFC 6265bis §8.8)
// keeps browsers from sending it with requests another site starts, which is the first line
// against CSRF (the per-session token in every form is the second, csrf-token.ts).
// Path=/ so every page of the server sees it; no Domain attribute: the host only, no subdomain.

export const SESSION_COOKIE = 'postern_session';

/** A session id as issued: 32 random bytes in base64url (43 characters). */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

export function isSessionId(value: string): boolean {
  return SESSION_ID.test(value);
}

/**
 * The values of a Cookie header by name (RFC 6265 §5.4: "name=value" pairs separated by "; ").
 * The first of a repeated name wins (§5.4 step 2 sorts longer paths first). Bounded: a header
 * is at most 16 KiB (the listener's maxHeaderSize).
 */
export function parseCookieHeader(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  if (header === undefined) return cookies;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (name.length > 0 && !cookies.has(name)) cookies.set(name, value);
  }
  return cookies;
}

/** The session id the request carries, or null when there is none or it is not well formed. */
export function sessionIdOf(cookieHeader: string | undefined): string | null {
  const value = parseCookieHeader(cookieHeader).get(SESSION_COOKIE);
  return value !== undefined && isSessionId(value) ? value : null;
}

export interface CookieOptions {
  /** Over TLS (the https listener): adds Secure. */
  secure: boolean;
}

/**
 * Set-Cookie for a new session. No Max-Age or Expires: a session cookie ends with the browser,
 * and the server's idle and absolute limits end it sooner.
 */
export function sessionCookie(id: string, opts: CookieOptions): string {
  if (!isSessionId(id)) throw new Error('not a session id');
  return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict${opts.secure ? '; Secure' : ''}`;
}

/** Set-Cookie that removes the session cookie (RFC 6265 §5.3 step 3: an expiry in the past). */
export function clearedSessionCookie(opts: CookieOptions): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${opts.secure ? '; Secure' : ''}`;
}
