// Keeps import order = UID order while deliveries run concurrently. Each delivery writes its blob
// in parallel with the others, but its store.append() is issued only after the previous
// delivery's was: the store queues appends in call order (and group-commits them), so UIDs
// follow the order of the input file. Implemented by handing deliverLocal per-delivery views of
// the blob store and the store (Proxies that delegate everything else to the real objects).

import type { BlobStore } from '../store/blob/types.js';
import type { AppendRequest, MailStore } from '../store/types.js';

export interface OrderedTurn {
  blobs: BlobStore;
  store: MailStore;
  /** Call when the delivery is over, whatever happened (lets later deliveries proceed). */
  done(): void;
}

function delegate<T extends object>(target: T, prop: string | symbol): unknown {
  const value: unknown = Reflect.get(target, prop, target);
  return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
}

export class AppendSequencer {
  private previous: Promise<void> = Promise.resolve();

  constructor(
    private readonly blobs: BlobStore,
    private readonly store: MailStore,
  ) {}

  /** Must be called in input order. */
  next(): OrderedTurn {
    const waitPrevious = this.previous;
    let markIssued: () => void = () => {};
    this.previous = new Promise<void>((resolve) => (markIssued = resolve));
    const realBlobs = this.blobs;
    const realStore = this.store;
    const blobs = new Proxy(realBlobs, {
      get: (target, prop) =>
        prop === 'write'
          ? async (...args: Parameters<BlobStore['write']>) => {
              const blob = await target.write(...args);
              await waitPrevious;
              return blob;
            }
          : delegate(target, prop),
    });
    const store = new Proxy(realStore, {
      get: (target, prop) =>
        prop === 'append'
          ? (req: AppendRequest) => {
              const result = target.append(req);
              markIssued();
              return result;
            }
          : delegate(target, prop),
    });
    return {
      blobs,
      store,
      done: () => {
        void waitPrevious.then(markIssued);
      },
    };
  }
}
