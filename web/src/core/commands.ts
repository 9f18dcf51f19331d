// The commands of the protocol as one map the compiler checks: what each command carries and
// what its reply holds, so `request("join", …)` takes a join's fields and resolves with a
// JoinReply. A new command (edit, react, read …) is one entry here.

import type { ConnectReply, HistoryPage, JoinReply, PresenceReply, SendReply } from "./protocol";

/** A command or reply that carries nothing besides `type` and `id`. */
export type Empty = Record<string, never>;

/** Each command: its fields besides `type` and `id`, and the fields of its reply the client reads. */
interface CommandMap {
  connect: { fields: { token: string }; reply: ConnectReply };
  join: { fields: { room: string; since?: number }; reply: JoinReply };
  leave: { fields: { room: string }; reply: Empty };
  // With attachments the body may be absent (a message of files alone).
  send: {
    fields: { room: string; body?: string; client_msg_id: string; reply_to?: string; attachments?: { upload_id: string }[] };
    reply: SendReply;
  };
  edit: { fields: { room: string; message_id: string; body: string; client_msg_id: string }; reply: SendReply };
  delete: { fields: { room: string; message_id: string; client_msg_id: string }; reply: SendReply };
  react: { fields: { room: string; message_id: string; emoji: string; client_msg_id: string }; reply: SendReply };
  history: { fields: { room: string; before?: number; limit?: number }; reply: HistoryPage };
  typing: { fields: { room: string }; reply: Empty };
  presence: { fields: { room: string }; reply: PresenceReply };
  ping: { fields: Empty; reply: Empty };
  refresh: { fields: { token: string }; reply: Empty };
  read: { fields: { room: string; seq: number }; reply: Empty };
}

export type CommandType = keyof CommandMap;
export type Commands = { [K in CommandType]: CommandMap[K]["fields"] };
export type Replies = { [K in CommandType]: CommandMap[K]["reply"] };

/** Commands that may go out without an id, when no reply is wanted. */
export type Notification = Extract<CommandType, "typing">;
