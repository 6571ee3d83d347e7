// Replies a command handler can throw instead of writing: the session writes the reply and
// counts it against limits.badCommands when it is a protocol error (5yz/503). RFC 5321 §4.2,
// enhanced status codes RFC 3463 / RFC 2034.

export class SmtpReply extends Error {
  readonly code: number;
  readonly enhanced: string | null;
  readonly text: string;
  /** The client did something wrong (syntax, sequence): counts towards limits.badCommands. */
  readonly badCommand: boolean;
  constructor(code: number, enhanced: string | null, text: string, opts: { badCommand?: boolean } = {}) {
    super(`${code} ${enhanced ?? ''} ${text}`);
    this.name = 'SmtpReply';
    this.code = code;
    this.enhanced = enhanced;
    this.text = text;
    this.badCommand = opts.badCommand === true;
  }
}

/** 503 5.5.1: the command is valid but not now (RFC 5321 §4.3.2). */
export function badSequence(text = 'Bad sequence of commands'): SmtpReply {
  return new SmtpReply(503, '5.5.1', text, { badCommand: true });
}

/** 501 5.5.4: invalid arguments (RFC 3463 §3.6). */
export function badArguments(text = 'Invalid command arguments'): SmtpReply {
  return new SmtpReply(501, '5.5.4', text, { badCommand: true });
}

/** 555 5.5.4: MAIL/RCPT parameter not recognised or not implemented (RFC 5321 §4.1.1.11). */
export function badParameter(text: string): SmtpReply {
  return new SmtpReply(555, '5.5.4', text, { badCommand: true });
}
