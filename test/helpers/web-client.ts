// A small HTTP client for the user's page (src/web) without a browser: keeps the session
// cookie, reads a page's CSRF token, posts forms. The browser test (test/system/web-page) uses
// chromium; this one serves the integration tests and the autoconfig tests' profile download.

import http from 'node:http';
import https from 'node:https';

export interface WebReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

export interface WebClientOptions {
  port: number;
  tls?: boolean;
  /** Host header (default 127.0.0.1:port). */
  host?: string;
}

export class WebClient {
  cookie: string | null = null;
  constructor(private readonly opts: WebClientOptions) {}

  request(
    path: string,
    opts: {
      method?: string;
      form?: Record<string, string>;
      headers?: Record<string, string>;
      cookie?: boolean;
    } = {},
  ): Promise<WebReply> {
    const body = opts.form === undefined ? undefined : new URLSearchParams(opts.form).toString();
    const headers: Record<string, string> = { ...opts.headers };
    if (body !== undefined) headers['Content-Type'] = 'application/x-www-form-urlencoded';
    if (this.cookie !== null && opts.cookie !== false) headers.Cookie = this.cookie;
    if (this.opts.host !== undefined) headers.Host = this.opts.host;
    return new Promise((resolve, reject) => {
      const req = (this.opts.tls === true ? https : http).request(
        {
          host: '127.0.0.1',
          port: this.opts.port,
          path,
          method: opts.method ?? (body === undefined ? 'GET' : 'POST'),
          headers,
          rejectUnauthorized: false,
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const setCookie = res.headers['set-cookie'];
            for (const c of setCookie ?? []) {
              const pair = c.split(';', 1)[0];
              this.cookie = pair.endsWith('=') ? null : pair;
            }
            const all = Buffer.concat(chunks);
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: all,
              text: all.toString('utf8'),
            });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Logs in; resolves with the reply (303 to /account on success). */
  login(address: string, password: string): Promise<WebReply> {
    return this.request('/login', { form: { address, password } });
  }

  /** The CSRF token of a page's forms. */
  async csrf(path = '/account'): Promise<string> {
    const page = await this.request(path);
    const m = /name="csrf" value="([^"]+)"/.exec(page.text);
    if (m === null) throw new Error(`no CSRF token on ${path} (status ${page.status})`);
    return m[1];
  }

  /** Posts a form with the session's CSRF token (read from `tokenFrom`). */
  async post(path: string, form: Record<string, string>, tokenFrom = '/account'): Promise<WebReply> {
    const csrf = await this.csrf(tokenFrom);
    return this.request(path, { form: { ...form, csrf } });
  }
}

/** Logs in and downloads the Apple profile from the client setup page. */
export async function downloadProfile(
  opts: WebClientOptions & { address: string; password: string; includePassword?: boolean },
): Promise<WebReply> {
  const client = new WebClient(opts);
  const login = await client.login(opts.address, opts.password);
  if (login.status !== 303) throw new Error(`login failed: ${login.status}`);
  const form: Record<string, string> =
    opts.includePassword === true ? { include_password: 'yes', password: opts.password } : {};
  return client.post('/account/mobileconfig', form, '/account/setup');
}
