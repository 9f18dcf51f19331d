// One piece of the chat's state that changes over time and tells who listens when it did, in the
// shape React's useSyncExternalStore reads. Changes are pure functions from one value to the next;
// a change that returns the value it was given is no change, and nobody hears of it.

export type Listener = () => void;

export class Store<S> {
  private state: S;
  private readonly listeners = new Set<Listener>();

  constructor(initial: S) {
    this.state = initial;
  }

  get = (): S => this.state;

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };

  update(change: (state: S) => S): void {
    const next = change(this.state);
    if (Object.is(next, this.state)) return;
    this.state = next;
    for (const listener of [...this.listeners]) listener();
  }
}
