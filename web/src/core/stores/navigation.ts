// Which room the person looks at. Opening a room sets it; leaving the open room moves it to
// another kept room or to none.

export interface NavigationState {
  readonly activeRoom: string | null;
}

export const NOWHERE: NavigationState = { activeRoom: null };

export function opened(state: NavigationState, room: string | null): NavigationState {
  return state.activeRoom === room ? state : { activeRoom: room };
}
