// Uploading the files the person attaches to the message they write: each is announced to the
// gateway (`POST /v1/rooms/{room}/uploads`, which checks the person may post there, the size and
// the rate), then its bytes go straight to the object store with the presigned request the
// gateway gave (never through a gateway), with progress. A failure says why and keeps the file,
// so trying again needs nothing chosen again; the typed text is the composer's and is never
// touched here. The message is sent (chat.ts) once every file of it is uploaded.

import type { GatewayApi, UploadTicket } from "./api";
import { MAX_FILES_PER_MESSAGE, attachmentName, humanSize, uploadType } from "./attachments";
import { ProtocolError } from "./protocol";
import type { ChatStores } from "./stores";
import * as drafts from "./stores/drafts";
import type { DraftFile } from "./stores/drafts";

/** A file the person chose (a browser File is one): what the gateway is told of it. */
export interface LocalFile {
  readonly name: string;
  readonly type: string;
  readonly size: number;
}

/** Why putting the bytes failed: no answer at all, an answer refusing them, or the person removed the file. */
export type TransferFailure = "network" | "refused" | "aborted";

export class TransferError extends Error {
  constructor(
    readonly reason: TransferFailure,
    readonly status = 0,
  ) {
    super(status === 0 ? reason : `${reason} (HTTP ${status})`);
    this.name = "TransferError";
  }
}

/** One upload of bytes under way; `done` rejects with a TransferError. */
export interface Transfer {
  readonly done: Promise<void>;
  abort(): void;
}

/**
 * Puts a file's bytes where the ticket says (the browser's XMLHttpRequest, app/upload.ts), telling
 * `onProgress` how many bytes have gone.
 */
export type PutFile = (ticket: UploadTicket, file: LocalFile, onProgress: (sent: number) => void) => Transfer;

export interface UploaderDeps {
  stores: Pick<ChatStores, "drafts">;
  api: Pick<GatewayApi, "createUpload">;
  putFile: PutFile;
  newId(): string;
}

/** The uploaded files of a message about to be sent, for its `attachments`. */
export interface ReadyFile {
  uploadId: string;
  name: string;
  type: string;
  size: number;
}

export class Uploader {
  /** The chosen file behind each chip still in a box (to upload, or to try again). */
  private readonly files = new Map<string, LocalFile>();
  private readonly transfers = new Map<string, Transfer>();
  /** Bumped on every try of a chip: the answers of an earlier try (removed, tried again) are dropped. */
  private readonly tries = new Map<string, number>();

  constructor(private readonly deps: UploaderDeps) {}

  /** Files the person pasted, dropped or picked for the message they write in `room`. */
  attach(room: string, chosen: readonly LocalFile[]): void {
    const held = drafts.draftsIn(this.deps.stores.drafts.get(), room).length;
    const fresh = chosen.map((file, index): DraftFile => {
      const draft = {
        key: this.deps.newId(),
        room,
        name: attachmentName(file.name),
        type: uploadType(file.type),
        size: file.size,
        sent: 0,
      };
      if (held + index >= MAX_FILES_PER_MESSAGE) {
        return { ...draft, state: "failed", error: `Only ${MAX_FILES_PER_MESSAGE} files go with one message`, retryable: false };
      }
      if (!(file.size > 0)) return { ...draft, state: "failed", error: "The file is empty", retryable: false };
      this.files.set(draft.key, file);
      return { ...draft, state: "uploading" };
    });
    this.deps.stores.drafts.update((s) => drafts.added(s, fresh));
    for (const draft of fresh) if (draft.state === "uploading") void this.upload(room, draft.key);
  }

  /** The person took a file out of the message: an upload under way stops. */
  remove(room: string, key: string): void {
    this.forget(key);
    this.deps.stores.drafts.update((s) => drafts.removed(s, room, key));
  }

  /** Tries a failed file again, from the start (a new upload: the last one's link may have expired). */
  retry(room: string, key: string): void {
    const draft = this.draft(room, key);
    if (draft?.state !== "failed" || draft.retryable !== true || !this.files.has(key)) return;
    this.deps.stores.drafts.update((s) =>
      drafts.changed(s, room, key, ({ error: _error, retryable: _retryable, uploadId: _id, ...rest }) => ({
        ...rest,
        state: "uploading",
        sent: 0,
      })),
    );
    void this.upload(room, key);
  }

  /**
   * The files to send with the message, all uploaded; null while one is still uploading or one
   * failed (the person decides: try again or remove it).
   */
  ready(room: string): ReadyFile[] | null {
    const held = drafts.draftsIn(this.deps.stores.drafts.get(), room);
    if (held.some((file) => file.state !== "ready" || file.uploadId === undefined)) return null;
    return held.map((file) => ({ uploadId: file.uploadId!, name: file.name, type: file.type, size: file.size }));
  }

  /** The message went out with the room's files: the box is empty again. */
  sent(room: string): void {
    for (const file of drafts.draftsIn(this.deps.stores.drafts.get(), room)) this.forget(file.key);
    this.deps.stores.drafts.update((s) => drafts.cleared(s, room));
  }

  stop(): void {
    for (const transfer of this.transfers.values()) transfer.abort();
    this.transfers.clear();
  }

  private async upload(room: string, key: string): Promise<void> {
    const file = this.files.get(key);
    const draft = this.draft(room, key);
    if (file === undefined || draft === undefined) return;
    const attempt = (this.tries.get(key) ?? 0) + 1;
    this.tries.set(key, attempt);
    const current = (): boolean => this.tries.get(key) === attempt;
    let ticket: UploadTicket;
    try {
      ticket = await this.deps.api.createUpload(room, { name: draft.name, type: draft.type, size: draft.size });
    } catch (error) {
      if (current()) this.failed(room, key, announceFailure(error, draft.size));
      return;
    }
    if (!current()) return;
    this.update(room, key, (d) => ({ ...d, uploadId: ticket.id }));
    let shown = -1;
    const transfer = this.deps.putFile(ticket, file, (sent) => {
      // A store change per percent, not per progress event.
      const percent = Math.floor((Math.min(sent, draft.size) * 100) / draft.size);
      if (percent === shown || !current()) return;
      shown = percent;
      this.update(room, key, (d) => ({ ...d, sent: Math.min(sent, draft.size) }));
    });
    this.transfers.set(key, transfer);
    try {
      await transfer.done;
    } catch (error) {
      if (current()) this.failed(room, key, storeFailure(error));
      return;
    } finally {
      if (this.transfers.get(key) === transfer) this.transfers.delete(key);
    }
    if (current()) this.update(room, key, (d) => ({ ...d, state: "ready", sent: d.size }));
  }

  private failed(room: string, key: string, why: { error: string; retryable: boolean }): void {
    this.update(room, key, (d) => ({ ...d, state: "failed", ...why }));
  }

  private update(room: string, key: string, change: (file: DraftFile) => DraftFile): void {
    this.deps.stores.drafts.update((s) => drafts.changed(s, room, key, change));
  }

  private forget(key: string): void {
    this.transfers.get(key)?.abort();
    this.transfers.delete(key);
    this.files.delete(key);
    this.tries.delete(key);
  }

  private draft(room: string, key: string): DraftFile | undefined {
    return drafts.draftsIn(this.deps.stores.drafts.get(), room).find((file) => file.key === key);
  }
}

/** "in 40 s", "in 3 min": when a rate-limited person may try again. */
export function retryIn(ms: number): string {
  const seconds = Math.ceil(ms / 1000);
  return seconds < 60 ? `in ${seconds} s` : `in ${Math.ceil(seconds / 60)} min`;
}

/** Why the gateway would not take the file, in words for the person, and whether trying again may help. */
export function announceFailure(error: unknown, size: number): { error: string; retryable: boolean } {
  if (!(error instanceof ProtocolError)) return { error: "Could not upload the file", retryable: true };
  const reason = error.message !== "" && error.message !== error.code ? `: ${error.message}` : "";
  switch (error.code) {
    case "too_large": {
      // The gateway says its limit in bytes ("a file may be at most N bytes; …"): said in words.
      const bytes = /at most (\d+) bytes/.exec(error.message)?.[1];
      if (bytes === undefined) return { error: `Too large to send (${humanSize(size)})${reason}`, retryable: false };
      const limit = humanSize(Number(bytes));
      // Just over the limit reads the same in words as the limit itself: then only the limit.
      const own = humanSize(size) === limit ? "" : `${humanSize(size)}, and `;
      return { error: `Too large to send: ${own}files may be at most ${limit}`, retryable: false };
    }
    case "rate_limited": {
      const when = error.retryAfterMs === undefined ? "later" : retryIn(error.retryAfterMs);
      return { error: `Too many uploads for now; try again ${when}`, retryable: true };
    }
    case "forbidden":
      return { error: `You may not post files in this room${reason}`, retryable: false };
    case "not_found":
      return { error: "The room is gone", retryable: false };
    case "unauthorized":
      return { error: "Your session has ended", retryable: false };
    case "bad_request":
      return { error: `The file was refused${reason}`, retryable: false };
    case "disconnected":
      return { error: "Network error: the chat service could not be reached", retryable: true };
    default:
      return { error: "The chat service is unavailable; try again", retryable: true };
  }
}

/** Why the object store did not take the bytes. */
export function storeFailure(error: unknown): { error: string; retryable: boolean } {
  if (!(error instanceof TransferError) || error.reason === "network") {
    return { error: "Network error while uploading", retryable: true };
  }
  if (error.reason === "aborted") return { error: "The upload was stopped", retryable: true };
  if (error.status === 413) return { error: "Too large for the file store", retryable: false };
  if (error.status === 403) {
    return { error: "The file store refused the upload (its link may have expired)", retryable: true };
  }
  return { error: `The file store answered HTTP ${error.status}`, retryable: true };
}
