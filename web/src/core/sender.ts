// Sends each room's pending messages one at a time, in the order they were typed, retrying as
// the outbox's policy says; every try of a message carries its first client_msg_id (G4).

import type { Clock, ConnectionLike } from "./connection";
import type { ChatDispatcher } from "./dispatcher";
import { isDue, markSending, newAction, newPending, retryNow, type ActionKind, type PendingMessage } from "./outbox";
import { ProtocolError, type ChatMessage, type ReplyTo } from "./protocol";
import type { ChatStores } from "./stores";
import * as pending from "./stores/pending";
import type { ReadyFile } from "./uploads";

export class Sender {
  private readonly sending = new Set<string>();
  private readonly timers = new Map<string, unknown>();

  constructor(
    private readonly stores: Pick<ChatStores, "rooms" | "pending">,
    private readonly dispatcher: Pick<ChatDispatcher, "acknowledged" | "sendFailed">,
    private readonly connection: Pick<ConnectionLike, "online" | "request">,
    private readonly clock: Clock,
    private readonly newId: () => string,
  ) {}

  /** The message shows at once as pending and goes out when the room is joined. */
  send(room: string, body: string, replyTo?: ReplyTo, attachments: readonly ReadyFile[] = []): void {
    const message = newPending(room, body, this.newId(), this.clock.now());
    this.queue({
      ...message,
      ...(replyTo === undefined ? {} : { replyTo }),
      ...(attachments.length === 0 ? {} : { attachments }),
    });
  }

  /** An edit, delete or reaction: in the same queue as messages, in the order asked for, retried alike. */
  act(room: string, action: ActionKind, target: string, fields: { body?: string; emoji?: string } = {}): void {
    this.queue(newAction(room, action, target, this.newId(), this.clock.now(), fields));
  }

  private queue(message: PendingMessage): void {
    this.stores.pending.update((s) => pending.typed(s, message));
    void this.flush(message.room);
  }

  /** The person pressed Retry on a failed message: it goes out with its first client_msg_id. */
  retry(room: string, clientMsgId: string): void {
    this.stores.pending.update((s) => pending.changed(s, room, clientMsgId, retryNow));
    void this.flush(room);
  }

  discard(room: string, clientMsgId: string): void {
    this.stores.pending.update((s) => pending.removed(s, room, clientMsgId));
  }

  /** Sends what is due in a room; waits for the next retry time when nothing is due yet. */
  async flush(room: string): Promise<void> {
    if (this.sending.has(room)) return;
    this.clock.clearTimeout(this.timers.get(room));
    this.timers.delete(room);
    for (;;) {
      if (!this.stores.rooms.get()[room]?.joined || !this.connection.online) return;
      const next = pending.nextToSend(this.stores.pending.get(), room);
      if (next === undefined) return;
      const now = this.clock.now();
      if (!isDue(next, now)) {
        if (next.state === "queued" && next.retryAt !== undefined) {
          this.timers.set(room, this.clock.setTimeout(() => void this.flush(room), next.retryAt - now));
        }
        return;
      }
      this.sending.add(room);
      this.stores.pending.update((s) => pending.changed(s, room, next.clientMsgId, markSending));
      try {
        const reply = await this.request(next);
        this.dispatcher.acknowledged(room, next.clientMsgId, reply.message);
      } catch (error) {
        const failure = error instanceof ProtocolError ? error : new ProtocolError("internal", String(error));
        this.dispatcher.sendFailed(room, next.clientMsgId, failure);
      } finally {
        this.sending.delete(room);
      }
    }
  }

  /** The command for a pending entry: the same fields, with the same client_msg_id, on every try. */
  private request(next: PendingMessage): Promise<{ message: ChatMessage }> {
    const { room, clientMsgId: client_msg_id, target } = next;
    if (next.action === undefined) {
      const files = next.attachments ?? [];
      // A message of files alone has no body.
      const text = files.length > 0 && next.body.trim() === "" ? {} : { body: next.body };
      return this.connection.request("send", {
        room,
        client_msg_id,
        ...text,
        ...(next.replyTo === undefined ? {} : { reply_to: next.replyTo.id }),
        ...(files.length === 0 ? {} : { attachments: files.map((file) => ({ upload_id: file.uploadId })) }),
      });
    }
    const message_id = target ?? "";
    switch (next.action) {
      case "edit":
        return this.connection.request("edit", { room, message_id, body: next.body, client_msg_id });
      case "delete":
        return this.connection.request("delete", { room, message_id, client_msg_id });
      case "react":
        return this.connection.request("react", { room, message_id, emoji: next.emoji ?? "", client_msg_id });
    }
  }

  stop(): void {
    for (const timer of this.timers.values()) this.clock.clearTimeout(timer);
    this.timers.clear();
  }
}
