// What a person can do with a message besides reading it: answer, react, change or delete it.
// The bar shows while the pointer is over the message, while focus is in it (Tab reaches it), or
// after a long press on a touch screen; each part here is one of its pieces.

import { useEffect, useRef, useState, type KeyboardEvent } from "react";

import type { PendingMessage } from "../../core/outbox";
import type { ChatMessage, Reaction, ReplyTo } from "../../core/protocol";
import { localTime } from "../../core/rows";
import { REACTION_EMOJI } from "./emoji";

export interface ActionBarProps {
  mayEdit: boolean;
  mayDelete: boolean;
  onReply: () => void;
  onReact: () => void;
  onEdit: () => void;
  onDelete: () => void;
}

export function ActionBar({ mayEdit, mayDelete, onReply, onReact, onEdit, onDelete }: ActionBarProps) {
  return (
    <div className="msg-actions" role="toolbar" aria-label="Message actions" data-testid="message-actions">
      <button type="button" className="action" onClick={onReply} title="Reply">
        Reply
      </button>
      <button type="button" className="action" onClick={onReact} title="React">
        React
      </button>
      {mayEdit && (
        <button type="button" className="action" onClick={onEdit} title="Edit">
          Edit
        </button>
      )}
      {mayDelete && (
        <button type="button" className="action danger" onClick={onDelete} title="Delete">
          Delete
        </button>
      )}
    </div>
  );
}

/** A row of emoji to react with; Escape closes it. */
export function EmojiPicker({ onPick, onClose }: { onPick: (emoji: string) => void; onClose: () => void }) {
  const first = useRef<HTMLButtonElement>(null);
  useEffect(() => first.current?.focus(), []);
  return (
    <div
      className="emoji-picker"
      role="group"
      aria-label="Pick a reaction"
      data-testid="emoji-picker"
      onKeyDown={(event) => {
        if (event.key === "Escape") {
          event.stopPropagation();
          onClose();
        }
      }}
    >
      {REACTION_EMOJI.map((emoji, index) => (
        <button
          key={emoji}
          ref={index === 0 ? first : undefined}
          type="button"
          className="emoji"
          aria-label={`React with ${emoji}`}
          onClick={() => onPick(emoji)}
        >
          {emoji}
        </button>
      ))}
      <button type="button" className="link small" onClick={onClose}>
        Close
      </button>
    </div>
  );
}

/** The emoji on a message with how many put each there; the reader's own are marked, a click toggles. */
export function Reactions({ reactions, onToggle }: { reactions: readonly Reaction[]; onToggle: (emoji: string) => void }) {
  return (
    <div className="reactions" data-testid="reactions">
      {reactions.map((reaction) => (
        <button
          key={reaction.emoji}
          type="button"
          className={`chip${reaction.me ? " mine" : ""}`}
          aria-pressed={reaction.me}
          aria-label={`${reaction.emoji} ${reaction.count}${reaction.me ? ", yours included" : ""}`}
          data-testid="reaction"
          data-emoji={reaction.emoji}
          onClick={() => onToggle(reaction.emoji)}
        >
          <span className="chip-emoji">{reaction.emoji}</span>
          <span className="chip-count">{reaction.count}</span>
        </button>
      ))}
    </div>
  );
}

/**
 * The message a message answers: who wrote it and its words as they were, as plain text. A click
 * goes to it when it is loaded.
 */
export function ReplyQuote({ reply, onJump }: { reply: ReplyTo; onJump?: (id: string) => void }) {
  const text = reply.deleted === true || reply.excerpt === undefined ? "Message deleted" : reply.excerpt;
  return (
    <button
      type="button"
      className={`reply-quote${reply.deleted === true ? " gone" : ""}`}
      data-testid="reply-quote"
      title="Go to the message"
      onClick={() => onJump?.(reply.id)}
    >
      <bdi className="reply-author">{reply.user.name}</bdi>
      <span className="reply-excerpt" dir="auto">
        {text}
      </span>
    </button>
  );
}

/** "(edited)", with the time of the newest edit on hover. */
export function EditedMark({ at }: { at: string }) {
  const date = new Date(at);
  const title = Number.isNaN(date.getTime()) ? at : `Edited ${localTime().fullText(date)}`;
  return (
    <span className="edited" title={title} data-testid="edited">
      (edited)
    </span>
  );
}

/** The text of one's own message, changed in place: Enter saves, Shift+Enter a new line, Escape cancels. */
export function MessageEditor({
  message,
  maxChars,
  onSave,
  onCancel,
}: {
  message: ChatMessage;
  maxChars: number;
  onSave: (body: string) => void;
  onCancel: () => void;
}) {
  const [text, setText] = useState(message.body ?? "");
  const box = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    const element = box.current;
    if (element === null) return;
    element.focus();
    element.setSelectionRange(element.value.length, element.value.length);
  }, []);
  const valid = text.trim() !== "" && text.length <= maxChars;
  const save = (): void => {
    if (!valid) return;
    if (text === message.body) onCancel();
    else onSave(text);
  };
  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>): void => {
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      save();
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      onCancel();
    }
  };
  return (
    <div className="msg-editor">
      <textarea
        ref={box}
        value={text}
        rows={Math.min(8, text.split("\n").length)}
        aria-label="Edit message"
        data-testid="edit-box"
        onChange={(event) => setText(event.target.value)}
        onKeyDown={onKeyDown}
      />
      <div className="msg-editor-hint">
        <span className="muted">Enter to save, Escape to cancel</span>
        <button type="button" className="link small" onClick={onCancel}>
          Cancel
        </button>
        <button type="button" className="primary small" disabled={!valid} onClick={save}>
          Save
        </button>
      </div>
    </div>
  );
}

/** Asks before a message goes for good. */
export function DeleteConfirm({ onConfirm, onCancel }: { onConfirm: () => void; onCancel: () => void }) {
  const cancel = useRef<HTMLButtonElement>(null);
  useEffect(() => cancel.current?.focus(), []);
  return (
    <div
      className="msg-confirm"
      role="group"
      aria-label="Delete this message?"
      data-testid="delete-confirm"
      onKeyDown={(event) => {
        if (event.key === "Escape") {
          event.stopPropagation();
          onCancel();
        }
      }}
    >
      <span>Delete this message for everyone?</span>
      <button type="button" className="danger small" onClick={onConfirm}>
        Delete
      </button>
      <button type="button" ref={cancel} className="link small" onClick={onCancel}>
        Cancel
      </button>
    </div>
  );
}

const UNDER_WAY: Record<string, string> = { edit: "Saving…", delete: "Deleting…", react: "Reacting…" };

/** The person's edits, deletes and reactions of a message on their way, or refused (with why). */
export function ActionStatus({
  actions,
  onDismiss,
}: {
  actions: readonly PendingMessage[];
  onDismiss: (clientMsgId: string) => void;
}) {
  if (actions.length === 0) return null;
  return (
    <>
      {actions.map((action) =>
        action.state === "failed" ? (
          <div key={action.clientMsgId} className="msg-status failed" role="alert" data-testid="action-error">
            <span>{action.error ?? "Not done"}</span>
            <button type="button" className="link small" onClick={() => onDismiss(action.clientMsgId)}>
              Dismiss
            </button>
          </div>
        ) : (
          <div key={action.clientMsgId} className="msg-status">
            <span>{action.error ?? UNDER_WAY[action.action ?? ""] ?? "Sending…"}</span>
          </div>
        ),
      )}
    </>
  );
}
