// Which room the person looks at, whether its newest messages are in view (the list scrolled to
// the bottom), and where the "new messages" line goes: the read mark the room had when the
// person came to it with messages waiting. Opening a room sets it; leaving the open room moves
// it to another kept room or to none.

export interface NavigationState {
  readonly activeRoom: string | null;
  /** The open room's message list shows its newest messages. */
  readonly atBottom: boolean;
  /** Messages after this seq are new to the person; null when nothing was waiting. */
  readonly newSince: number | null;
}

export const NOWHERE: NavigationState = { activeRoom: null, atBottom: true, newSince: null };

/** A room comes into view, scrolled to its end, with nothing marked new yet. */
export function opened(state: NavigationState, room: string | null): NavigationState {
  return state.activeRoom === room ? state : { activeRoom: room, atBottom: true, newSince: null };
}

export function scrolled(state: NavigationState, atBottom: boolean): NavigationState {
  return state.atBottom === atBottom ? state : { ...state, atBottom };
}

/** The person arrives at the open room with messages after `lastRead` waiting: the line goes there. */
export function arrivedWithNews(state: NavigationState, lastRead: number): NavigationState {
  return state.newSince === lastRead ? state : { ...state, newSince: lastRead };
}
