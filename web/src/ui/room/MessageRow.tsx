// One row of the message list: the room's start, a loader, a day separator, a message, or one's
// own message still on its way.

import { useRef, useState } from "react";

import type { RoomKind } from "../../core/api";
import type { ChatMessage, UserRef } from "../../core/protocol";
import { localTime, type Row } from "../../core/rows";
import { Avatar } from "../common/Avatar";
import { LONG_PRESS_MS } from "../message-actions/emoji";
import {
  ActionBar,
  ActionStatus,
  DeleteConfirm,
  EditedMark,
  EmojiPicker,
  MessageEditor,
  ReplyQuote,
  Reactions,
} from "../message-actions/MessageActions";
import { SendStatus } from "../message-actions/SendStatus";
import { MessageFiles, PendingFiles } from "./Attachments";
import { MessageText } from "./MessageText";

export interface RowContext {
  roomKind: RoomKind;
  roomTitle: string;
  me: UserRef;
  /** The person may delete anyone's message here (the room's owner or a moderator). */
  moderates: boolean;
  /** The person may act in the room at all (a member, not a read-only room for them). */
  mayAct: boolean;
  maxChars: number;
  onRetry: (clientMsgId: string) => void;
  onDiscard: (clientMsgId: string) => void;
  onReply: (message: ChatMessage) => void;
  onReact: (messageId: string, emoji: string) => void;
  onEdit: (messageId: string, body: string) => void;
  onDelete: (messageId: string) => void;
  /** Shows a held message (a reply's original); nothing when it is not loaded. */
  onJump: (messageId: string) => void;
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
    case "message":
      return <SentMessage row={row} context={context} />;
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
            {pending.replyTo && <ReplyQuote reply={pending.replyTo} onJump={context.onJump} />}
            {(pending.attachments === undefined || pending.body.trim() !== "") && (
              <div className="msg-body" data-testid="message-body" dir="auto">
                <MessageText body={pending.body} />
              </div>
            )}
            {pending.attachments !== undefined && <PendingFiles files={pending.attachments} />}
            <SendStatus pending={pending} onRetry={context.onRetry} onDiscard={context.onDiscard} />
          </div>
        </article>
      );
    }
  }
}

type Mode = "read" | "edit" | "react" | "confirm";

/** A stored message, with what the person can do with it. */
function SentMessage({ row, context }: { row: Extract<Row, { kind: "message" }>; context: RowContext }) {
  const { message } = row;
  const [mode, setMode] = useState<Mode>("read");
  const article = useRef<HTMLElement>(null);
  const press = useRef<number | undefined>(undefined);
  const deleted = message.deleted === true;
  // A deleted message shows no files, whatever an older frame carried.
  const files = deleted ? [] : (message.attachments ?? []);
  const mayEdit = row.own && !deleted && context.mayAct;
  const mayDelete = (row.own || context.moderates) && !deleted && context.mayAct;
  const endPress = (): void => window.clearTimeout(press.current);
  return (
    <article
      ref={article}
      className={`msg${row.own ? " own" : ""}${row.first ? " first" : ""}${deleted ? " deleted" : ""}`}
      data-testid="message"
      data-seq={message.seq}
      data-id={message.id}
      data-own={row.own}
      data-state="sent"
      tabIndex={deleted ? undefined : 0}
      aria-label={`${row.own ? "You" : message.user.name}, ${row.time}`}
      // A long press on a touch screen focuses the message, which shows its actions (as Tab does).
      onTouchStart={() => {
        endPress();
        press.current = window.setTimeout(() => article.current?.focus(), LONG_PRESS_MS);
      }}
      onTouchEnd={endPress}
      onTouchMove={endPress}
      onContextMenu={(event) => {
        if (press.current !== undefined && document.activeElement === article.current) event.preventDefault();
      }}
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
        {!deleted && message.reply_to && <ReplyQuote reply={message.reply_to} onJump={context.onJump} />}
        {deleted ? (
          <div className="msg-body gone" data-testid="message-body">
            Message deleted
          </div>
        ) : mode === "edit" ? (
          <MessageEditor
            message={message}
            maxChars={context.maxChars}
            onSave={(body) => {
              context.onEdit(message.id, body);
              setMode("read");
            }}
            onCancel={() => {
              setMode("read");
              article.current?.focus();
            }}
          />
        ) : files.length > 0 && (message.body ?? "") === "" && message.edited_at === undefined ? null : (
          /* Text nodes and the elements of its formatting only: never HTML, whatever the message
             says. Its direction comes from its own first strong character, line by line, and
             ends with it: a right-to-left override in a message cannot turn around the names
             or the messages after it. A message of files alone has no text to show. */
          <div className="msg-body" data-testid="message-body" dir="auto">
            <MessageText body={message.body ?? ""} me={context.me} mentions={message.mentions} />
            {message.edited_at !== undefined && <EditedMark at={message.edited_at} />}
          </div>
        )}
        {files.length > 0 && <MessageFiles room={message.room} attachments={files} />}
        {!deleted && message.reactions && message.reactions.length > 0 && (
          <Reactions reactions={message.reactions} onToggle={(emoji) => context.onReact(message.id, emoji)} />
        )}
        {mode === "react" && (
          <EmojiPicker
            onPick={(emoji) => {
              context.onReact(message.id, emoji);
              setMode("read");
            }}
            onClose={() => setMode("read")}
          />
        )}
        {mode === "confirm" && (
          <DeleteConfirm
            onConfirm={() => {
              context.onDelete(message.id);
              setMode("read");
            }}
            onCancel={() => setMode("read")}
          />
        )}
        <ActionStatus actions={row.actions} onDismiss={context.onDiscard} />
        {!deleted && mode === "read" && context.mayAct && (
          <ActionBar
            mayEdit={mayEdit}
            mayDelete={mayDelete}
            onReply={() => context.onReply(message)}
            onReact={() => setMode("react")}
            onEdit={() => setMode("edit")}
            onDelete={() => setMode("confirm")}
          />
        )}
      </div>
    </article>
  );
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
