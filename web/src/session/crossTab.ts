/**
 * The browser pieces behind one refresh at a time across tabs: the Web Locks API for mutual
 * exclusion and a BroadcastChannel to hand the result to the other tabs. Both have stand-ins
 * for browsers (or insecure origins) without them, and tests pass their own.
 */

export interface LockLike {
  /**
   * Runs `task` while holding the named lock, exclusively across this origin's tabs; `waited`
   * tells it whether another holder had the lock first.
   */
  run<T>(name: string, task: (waited: boolean) => Promise<T>): Promise<T>;
}

export interface ChannelLike<M> {
  post(message: M): void;
  listen(handler: (message: M) => void): () => void;
  close(): void;
}

/** navigator.locks when present (secure contexts), else a lock that only spans this tab. */
export function browserLock(): LockLike {
  const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
  if (locks && typeof locks.request === "function") {
    return {
      // Taken at once when free (ifAvailable), else waited for.
      run: (name, task) =>
        locks.request(name, { mode: "exclusive", ifAvailable: true }, (free) =>
          free ? task(false) : locks.request(name, { mode: "exclusive" }, () => task(true)),
        ) as Promise<never>,
    };
  }
  return tabLock();
}

/** A lock within one JavaScript realm: tasks with the same name run one after another. */
export function tabLock(): LockLike {
  const tails = new Map<string, Promise<unknown>>();
  return {
    run<T>(name: string, task: (waited: boolean) => Promise<T>): Promise<T> {
      const previous = tails.get(name);
      const waited = previous !== undefined;
      const start = () => task(waited);
      const result = (previous ?? Promise.resolve()).then(start, start);
      const tail = result.catch(() => undefined);
      tails.set(name, tail);
      void tail.then(() => {
        if (tails.get(name) === tail) tails.delete(name);
      });
      return result;
    },
  };
}

/** A BroadcastChannel when present, else a channel that reaches nobody. */
export function browserChannel<M>(name: string): ChannelLike<M> {
  if (typeof BroadcastChannel === "undefined") {
    return { post() {}, listen: () => () => {}, close() {} };
  }
  const channel = new BroadcastChannel(name);
  return {
    post: (message) => channel.postMessage(message),
    listen(handler) {
      const onMessage = (event: MessageEvent) => handler(event.data as M);
      channel.addEventListener("message", onMessage);
      return () => channel.removeEventListener("message", onMessage);
    },
    close: () => channel.close(),
  };
}
