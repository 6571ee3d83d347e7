// Keeps the order of commits equal to the order of arrival while deliveries run concurrently
// (import: UIDs follow the input file). Each delivery writes its blob in parallel with the
// others, but issues its store.append() only after the previous ticket's append was issued;
// the store queues appends in call order, so UIDs follow ticket order. A ticket must always be
// released, whatever happens to its delivery, or later tickets wait for ever.

export interface CommitTicket {
  /** Resolves when every earlier ticket has issued its append (or was released). */
  turn(): Promise<void>;
  /** Lets the next ticket go; safe to call more than once. */
  release(): void;
}

export class CommitOrder {
  private previous: Promise<void> = Promise.resolve();

  /** Must be called in arrival order. */
  next(): CommitTicket {
    const before = this.previous;
    let release: () => void = () => {};
    const mine = new Promise<void>((resolve) => (release = resolve));
    // The next ticket waits for this one's release AND for every ticket before it.
    this.previous = before.then(() => mine);
    return { turn: () => before, release: () => release() };
  }
}
