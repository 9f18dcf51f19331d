// The input box: Enter sends, Shift+Enter starts a new line; grows with its text. Above it, the
// message being answered (with a way to stop answering); typing `@` and letters offers the room's
// members whose name starts so (arrows choose, Enter or Tab takes one, Escape closes).

import { useEffect, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent } from "react";

import type { RoomMember } from "../../core/api";
import { completed, mentionAt, suggestions } from "../../core/mentionComplete";
import type { ReplyTo } from "../../core/protocol";
import { SendIcon } from "../common/icons";

// Past this many lines the box scrolls instead of growing over the messages.
const MAX_HEIGHT_PX = 200;

interface ComposerProps {
  roomTitle: string;
  disabled: boolean;
  disabledReason: string;
  maxChars: number;
  onSend: (body: string) => void;
  onTyping: () => void;
  replyTo?: ReplyTo | null;
  onCancelReply?: () => void;
  /** The room's members, for completing `@names` (empty until loaded). */
  members?: readonly RoomMember[];
  /** The person started an `@name`: the members are wanted. */
  onWantMembers?: () => void;
  /** The person's own id: they are not offered to themselves. */
  me?: string;
}

export function Composer({
  roomTitle,
  disabled,
  disabledReason,
  maxChars,
  onSend,
  onTyping,
  replyTo = null,
  onCancelReply,
  members = [],
  onWantMembers,
  me = "",
}: ComposerProps) {
  const [text, setText] = useState("");
  const [caret, setCaret] = useState(0);
  const [chosen, setChosen] = useState(0);
  const [closedAt, setClosedAt] = useState<number | null>(null);
  const box = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    box.current?.focus();
  }, [roomTitle, replyTo]);

  useEffect(() => {
    const element = box.current;
    if (element === null) return;
    element.style.height = "auto";
    element.style.height = `${Math.min(element.scrollHeight, MAX_HEIGHT_PX)}px`;
  }, [text]);

  // Where the caret goes once a completed name is in the box: set as React puts the text in,
  // before any further key can land at the old place.
  const caretAfter = useRef<number | null>(null);
  useLayoutEffect(() => {
    const element = box.current;
    const at = caretAfter.current;
    if (element === null || at === null) return;
    caretAfter.current = null;
    element.focus();
    element.setSelectionRange(at, at);
  }, [text]);

  const query = useMemo(() => mentionAt(text, caret), [text, caret]);
  const open = query !== null && closedAt !== query.start;
  const offered = useMemo(
    () => (open && query !== null ? suggestions(members, query.prefix, me) : []),
    [open, query, members, me],
  );
  // Once per `@` typed, not per letter after it.
  const want = useRef(onWantMembers);
  want.current = onWantMembers;
  const asking = open ? query?.start : undefined;
  useEffect(() => {
    if (asking !== undefined) want.current?.();
  }, [asking]);
  useEffect(() => setChosen(0), [query?.start, query?.prefix]);

  const tooLong = text.length > maxChars;
  const send = (): void => {
    if (disabled || tooLong || text.trim() === "") return;
    onSend(text);
    setText("");
    setCaret(0);
  };

  const take = (member: RoomMember): void => {
    if (query === null) return;
    const next = completed(text, query, caret, member.name);
    caretAfter.current = next.caret;
    setText(next.text);
    setCaret(next.caret);
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>): void => {
    if (offered.length > 0) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        const step = event.key === "ArrowDown" ? 1 : -1;
        setChosen((chosen + step + offered.length) % offered.length);
        return;
      }
      const pick = offered[chosen] ?? offered[0]!;
      // A name typed out in full needs no completing: Enter sends it as it is.
      const whole = event.key === "Enter" && pick.name === query?.prefix;
      if ((event.key === "Enter" || event.key === "Tab") && !whole && !event.shiftKey && !event.nativeEvent.isComposing) {
        event.preventDefault();
        take(pick);
        return;
      }
      if (event.key === "Escape") {
        event.preventDefault();
        setClosedAt(query?.start ?? null);
        return;
      }
    }
    if (event.key === "Escape" && replyTo !== null) {
      event.preventDefault();
      onCancelReply?.();
      return;
    }
    // Enter while an input method composes a character belongs to the input method.
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      send();
    }
  };

  const left = maxChars - text.length;
  const listId = `mentions-${roomTitle}`;
  return (
    <div className="composer-wrap">
      {offered.length > 0 && (
        <ul className="mention-list" role="listbox" id={listId} aria-label="People to mention" data-testid="mention-list">
          {offered.map((member, index) => (
            <li
              key={member.id}
              role="option"
              aria-selected={index === chosen}
              className={index === chosen ? "chosen" : undefined}
              data-testid="mention-option"
              // Before the box loses focus: the click must not close the list first.
              onMouseDown={(event) => {
                event.preventDefault();
                take(member);
              }}
            >
              <bdi>@{member.name}</bdi>
            </li>
          ))}
        </ul>
      )}
      {replyTo !== null && (
        <div className="replying" data-testid="replying-to">
          <span className="muted">Replying to</span> <bdi className="reply-author">{replyTo.user.name}</bdi>
          <span className="reply-excerpt" dir="auto">
            {replyTo.excerpt ?? ""}
          </span>
          <button type="button" className="icon-button small" aria-label="Cancel reply" onClick={() => onCancelReply?.()}>
            ×
          </button>
        </div>
      )}
      <form
        className="composer"
        onSubmit={(event) => {
          event.preventDefault();
          send();
        }}
      >
        <textarea
          ref={box}
          rows={1}
          value={text}
          placeholder={disabled ? disabledReason : `Message ${roomTitle}`}
          aria-label={`Message ${roomTitle}`}
          aria-autocomplete="list"
          aria-expanded={offered.length > 0}
          aria-controls={offered.length > 0 ? listId : undefined}
          data-testid="composer"
          disabled={disabled}
          onChange={(event) => {
            setText(event.target.value);
            setCaret(event.target.selectionStart);
            if (event.target.value !== "") onTyping();
          }}
          onSelect={(event) => setCaret(event.currentTarget.selectionStart)}
          onKeyDown={onKeyDown}
        />
        {left < 200 && (
          <span className={`counter${tooLong ? " over" : ""}`} aria-live="polite">
            {left}
          </span>
        )}
        <button
          type="submit"
          className="send"
          aria-label="Send"
          title="Send (Enter)"
          disabled={disabled || tooLong || text.trim() === ""}
        >
          <SendIcon />
        </button>
      </form>
    </div>
  );
}
