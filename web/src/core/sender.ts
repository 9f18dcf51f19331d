// Sends each room's pending messages one at a time, in the order they were typed, retrying as
// the outbox's policy says; every try of a message carries its first client_msg_id (G4).

import type { Clock, ConnectionLike } from "./connection";
import type { ChatDispatcher } from "./dispatcher";
import { isDue, markSending, newPending, retryNow } from "./outbox";
import { ProtocolError } from "./protocol";
import type { ChatStores } from "./stores";
import * as pending from "./stores/pending";

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
  send(room: string, body: string): void {
    const message = newPending(room, body, this.newId(), this.clock.now());
    this.stores.pending.update((s) => pending.typed(s, message));
    void this.flush(room);
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
        const reply = await this.connection.request("send", {
          room,
          body: next.body,
          client_msg_id: next.clientMsgId,
        });
        this.dispatcher.acknowledged(room, next.clientMsgId, reply.message);
      } catch (error) {
        const failure = error instanceof ProtocolError ? error : new ProtocolError("internal", String(error));
        this.dispatcher.sendFailed(room, next.clientMsgId, failure);
      } finally {
        this.sending.delete(room);
      }
    }
  }

  stop(): void {
    for (const timer of this.timers.values()) this.clock.clearTimeout(timer);
    this.timers.clear();
  }
}
