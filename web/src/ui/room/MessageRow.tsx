// One row of the message list: the room's start, a loader, a day separator, a message, or one's
// own message still on its way.

import type { RoomKind } from "../../core/api";
import type { UserRef } from "../../core/protocol";
import { localTime, type Row } from "../../core/rows";
import { Avatar } from "../common/Avatar";
import { SendStatus } from "../message-actions/SendStatus";
import { MessageText } from "./MessageText";

export interface RowContext {
  roomKind: RoomKind;
  roomTitle: string;
  me: UserRef;
  onRetry: (clientMsgId: string) => void;
  onDiscard: (clientMsgId: string) => void;
}

export function MessageRow({ row, context }: { row: Row; context: RowContext }) {
  switch (row.kind) {
    case "loader":
      return <div className="list-note">Loading earlier messages…</div>;
    case "start":
      return <RoomStart kind={context.roomKind} title={context.roomTitle} />;
    case "new":
      return (
        <div className="new-line" role="separator" aria-label="New messages" data-testid="new-messages">
          <span>New messages</span>
        </div>
      );
    case "day":
      return (
        <div className="day" role="separator" data-testid="day-separator">
          <span>{row.label}</span>
        </div>
      );
    case "message": {
      const { message } = row;
      return (
        <article
          className={`msg${row.own ? " own" : ""}${row.first ? " first" : ""}`}
          data-testid="message"
          data-seq={message.seq}
          data-own={row.own}
          data-state="sent"
        >
          {!row.own && (
            <div className="msg-gutter">
              {row.first ? (
                <Avatar id={message.user.id} name={message.user.name} />
              ) : (
                <time className="msg-time-hover" dateTime={message.ts}>
                  {row.time}
                </time>
              )}
            </div>
          )}
          <div className="msg-main">
            {row.first && (
              <header className="msg-head">
                <bdi className="msg-author">{row.own ? "You" : message.user.name}</bdi>
                <time dateTime={message.ts} title={localTime().fullText(new Date(message.ts))}>
                  {row.time}
                </time>
              </header>
            )}
            {/* Text nodes and the elements of its formatting only: never HTML, whatever the message
                says. Its direction comes from its own first strong character, line by line, and
                ends with it: a right-to-left override in a message cannot turn around the names
                or the messages after it. */}
            <div className="msg-body" data-testid="message-body" dir="auto">
              <MessageText body={message.body} me={context.me} mentions={message.mentions} />
            </div>
          </div>
        </article>
      );
    }
    case "pending": {
      const { pending } = row;
      return (
        <article
          className={`msg own pending${row.first ? " first" : ""}${pending.state === "failed" ? " failed" : ""}`}
          data-testid="message"
          data-own="true"
          data-state={pending.state}
        >
          <div className="msg-main">
            {row.first && (
              <header className="msg-head">
                <span className="msg-author">You</span>
                <time>{row.time}</time>
              </header>
            )}
            <div className="msg-body" data-testid="message-body" dir="auto">
              <MessageText body={pending.body} />
            </div>
            <SendStatus pending={pending} onRetry={context.onRetry} onDiscard={context.onDiscard} />
          </div>
        </article>
      );
    }
  }
}

function RoomStart({ kind, title }: { kind: RoomKind; title: string }) {
  return (
    <div className="room-start">
      <strong>{kind === "dm" ? title : `#${title}`}</strong>
      <span className="muted">
        {kind === "dm"
          ? `This is the beginning of your conversation with ${title}.`
          : "This is the very beginning of the room."}
      </span>
    </div>
  );
}
