// The input box: Enter sends, Shift+Enter starts a new line; grows with its text. Above it, the
// message being answered (with a way to stop answering) and the files attached (pasted, dropped
// or picked with the paperclip); typing `@` and letters offers the room's members whose name
// starts so (arrows choose, Enter or Tab takes one, Escape closes).

import { useEffect, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent } from "react";

import type { RoomMember } from "../../core/api";
import { completed, mentionAt, suggestions } from "../../core/mentionComplete";
import type { ReplyTo } from "../../core/protocol";
import { summary, type DraftFile } from "../../core/stores/drafts";
import { PaperclipIcon, SendIcon } from "../common/icons";
import { DraftFiles } from "./DraftFiles";

// Past this many lines the box scrolls instead of growing over the messages.
const MAX_HEIGHT_PX = 200;

interface ComposerProps {
  roomTitle: string;
  disabled: boolean;
  disabledReason: string;
  maxChars: number;
  /** Sends what was typed (with the files attached); false when it could not go, and the text stays. */
  onSend: (body: string) => boolean | void;
  onTyping: () => void;
  replyTo?: ReplyTo | null;
  onCancelReply?: () => void;
  /** The room's members, for completing `@names` (empty until loaded). */
  members?: readonly RoomMember[];
  /** The person started an `@name`: the members are wanted. */
  onWantMembers?: () => void;
  /** The person's own id: they are not offered to themselves. */
  me?: string;
  /** The files attached to the message (absent: this box takes no files). */
  files?: readonly DraftFile[];
  onAttach?: (files: File[]) => void;
  onRemoveFile?: (key: string) => void;
  onRetryFile?: (key: string) => void;
}

const NO_FILES: readonly DraftFile[] = [];

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
  files = NO_FILES,
  onAttach,
  onRemoveFile,
  onRetryFile,
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

  const picker = useRef<HTMLInputElement>(null);
  const tooLong = text.length > maxChars;
  const attached = summary(files);
  // A file still uploading, or one that failed, holds the message back: the person sees which.
  const held = attached.uploading > 0 || attached.failed > 0;
  const empty = text.trim() === "" && attached.ready === 0;
  const canSend = !disabled && !tooLong && !empty && !held;
  const send = (): void => {
    if (!canSend) return;
    if (onSend(text) === false) return;
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
      <DraftFiles files={files} onRemove={(key) => onRemoveFile?.(key)} onRetry={(key) => onRetryFile?.(key)} />
      <form
        className="composer"
        onSubmit={(event) => {
          event.preventDefault();
          send();
        }}
      >
        {onAttach !== undefined && (
          <>
            <button
              type="button"
              className="attach"
              aria-label="Attach files"
              title="Attach files (or paste, or drop them here)"
              disabled={disabled}
              onClick={() => picker.current?.click()}
            >
              <PaperclipIcon />
            </button>
            <input
              ref={picker}
              type="file"
              multiple
              hidden
              data-testid="file-input"
              onChange={(event) => {
                const chosen = [...(event.target.files ?? [])];
                event.target.value = ""; // the same file may be chosen again
                if (chosen.length > 0) onAttach(chosen);
              }}
            />
          </>
        )}
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
          onPaste={(event) => {
            // Pasted files (a screenshot, files copied in a file manager) are attached; text pastes as text.
            const pasted = [...event.clipboardData.files];
            if (pasted.length === 0 || onAttach === undefined || disabled) return;
            event.preventDefault();
            onAttach(pasted);
          }}
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
          title={attached.uploading > 0 ? "Waiting for the files to upload" : attached.failed > 0 ? "A file could not be uploaded: retry or remove it" : "Send (Enter)"}
          disabled={!canSend}
        >
          <SendIcon />
        </button>
      </form>
    </div>
  );
}
