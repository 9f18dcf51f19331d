// The files the person has chosen for the message they are writing, per room, shown as chips above
// the box until the message is sent: each uploading (with how far it got), uploaded (its upload
// id, ready to go with the message) or failed (why, and whether trying again can help).

export type DraftState = "uploading" | "ready" | "failed";

export interface DraftFile {
  /** This chip's own key (a file chosen twice is two chips). */
  readonly key: string;
  readonly room: string;
  /** The name as the others will see it (attachments.ts, attachmentName). */
  readonly name: string;
  /** The declared content type. */
  readonly type: string;
  readonly size: number;
  readonly state: DraftState;
  /** Bytes the store has received so far. */
  readonly sent: number;
  /** The gateway's upload id, once the upload was announced. */
  readonly uploadId?: string;
  /** Why it failed, in words for the person. */
  readonly error?: string;
  /** Trying again may help (a network error, a busy service); not for a file too large. */
  readonly retryable?: boolean;
}

export type DraftsState = Readonly<Record<string, readonly DraftFile[]>>;

const NONE: readonly DraftFile[] = [];

export function draftsIn(state: DraftsState, room: string): readonly DraftFile[] {
  return state[room] ?? NONE;
}

export function added(state: DraftsState, files: readonly DraftFile[]): DraftsState {
  if (files.length === 0) return state;
  const room = files[0]!.room;
  return { ...state, [room]: [...draftsIn(state, room), ...files] };
}

export function changed(
  state: DraftsState,
  room: string,
  key: string,
  change: (file: DraftFile) => DraftFile,
): DraftsState {
  const held = draftsIn(state, room);
  const index = held.findIndex((file) => file.key === key);
  if (index < 0) return state;
  const next = change(held[index]!);
  if (next === held[index]) return state;
  const files = [...held];
  files[index] = next;
  return { ...state, [room]: files };
}

export function removed(state: DraftsState, room: string, key: string): DraftsState {
  const held = draftsIn(state, room);
  const kept = held.filter((file) => file.key !== key);
  return kept.length === held.length ? state : { ...state, [room]: kept };
}

/** The message went out with its files: the box starts empty. */
export function cleared(state: DraftsState, room: string): DraftsState {
  if (draftsIn(state, room).length === 0) return state;
  const { [room]: _gone, ...rest } = state;
  return rest;
}

/** What the files of a room's box allow: sending, or waiting (uploading), or a decision (failed). */
export interface DraftsSummary {
  ready: number;
  uploading: number;
  failed: number;
}

export function summary(files: readonly DraftFile[]): DraftsSummary {
  let ready = 0;
  let uploading = 0;
  let failed = 0;
  for (const file of files) {
    if (file.state === "ready") ready += 1;
    else if (file.state === "uploading") uploading += 1;
    else failed += 1;
  }
  return { ready, uploading, failed };
}
