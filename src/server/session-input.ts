// The input side every protocol session (SMTP, POP3, IMAP) shares: the connection's chunks go
// to the session's reader, the socket is paused while the reader holds too much, and the
// session's loop sleeps until there is more input, the peer has ended, or something else wakes
// it (a timeout, shutdown, a store notification during IMAP IDLE). Invariants:
// - memory stays bounded: past `maxBuffered` bytes held by the reader the socket is paused, and
//   it is resumed only when the session has consumed what it holds and waits for more;
// - no wake-up is lost: a wakeUp() while the session is not waiting (for example while it waits
//   for a write to drain) makes its next wait() return at once, so input that arrived meanwhile
//   is read instead of sitting in the reader until the next chunk or the idle timeout;
// - a wake-up may be spurious: callers check their reader and state again after each wait();
// - a session that has not logged in (`isGuest`) reads each input in its turn (guest-turns.ts),
//   so a login storm never holds the event loop for logged-in sessions.

import { guestTurns } from './guest-turns.js';
import type { Connection } from './types.js';

/** What SessionInput.next() needs of a session. */
export interface SessionSource<T> {
  /** The reader's next input, or null when it needs more bytes. */
  read(): T | null;
  /** The session takes no more input (QUIT, LOGOUT, a fatal error, shutdown). */
  stopped(): boolean;
  /** More output is queued than the session lets wait for the end of the input. */
  backlog(): boolean;
  /** Writes the queued output, waiting for the socket to drain if it asks. */
  flush(): Promise<void>;
}

export class SessionInput {
  private waiter: (() => void) | null = null;
  private signalled = false;
  private paused = false;
  private ended = false;

  /**
   * `isGuest`: whether the session is still before its login (asked before each input; false
   * for a session that never logs in, such as the MX's).
   */
  constructor(
    private readonly conn: Connection,
    private readonly maxBuffered: number,
    private readonly isGuest: () => boolean = () => false,
  ) {}

  /**
   * Starts taking the connection's input. `push` hands a chunk to the session's reader and
   * returns how many bytes the reader now holds, or null when the session takes no more input
   * (the chunk is dropped).
   */
  start(push: (chunk: Buffer) => number | null): void {
    this.conn.onData((chunk) => {
      const buffered = push(chunk);
      if (buffered === null) return;
      if (buffered > this.maxBuffered && !this.paused) {
        this.paused = true;
        this.conn.pause();
      }
      this.wakeUp();
    });
    this.conn.onEnd(() => this.end());
    this.conn.onClose(() => this.end());
  }

  /** The peer has closed its side, or the connection is gone. */
  get peerEnded(): boolean {
    return this.ended;
  }

  /** Wakes the session's wait(), now or, if it is not waiting, at its next one. */
  wakeUp(): void {
    const w = this.waiter;
    this.waiter = null;
    if (w !== null) w();
    else this.signalled = true;
  }

  /**
   * The session's next input: what its reader has, else its queued output is flushed and this
   * waits for more. Output queued past the session's bound (`backlog`) is flushed before an
   * input is returned. Null once the session has stopped, the peer has ended, or the
   * connection is gone.
   */
  async next<T>(session: SessionSource<T>): Promise<T | null> {
    for (;;) {
      if (session.stopped()) return null;
      if (this.isGuest()) {
        await guestTurns.take();
        if (session.stopped()) return null;
      }
      const input = session.read();
      if (input !== null) {
        if (session.backlog()) await session.flush();
        return input;
      }
      await session.flush();
      if (session.stopped() || this.ended || this.conn.closed) return null;
      await this.wait();
    }
  }

  /** Resumes the socket if this paused it, then waits for a wakeUp() (input, end, or other). */
  async wait(): Promise<void> {
    if (this.paused) {
      this.paused = false;
      this.conn.resume();
    }
    if (this.signalled) {
      this.signalled = false;
      return;
    }
    await new Promise<void>((resolve) => (this.waiter = resolve));
  }

  private end(): void {
    this.ended = true;
    this.wakeUp();
  }
}
