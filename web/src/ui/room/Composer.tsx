// The input box: Enter sends, Shift+Enter starts a new line; grows with its text.

import { useEffect, useRef, useState, type KeyboardEvent } from "react";

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
}

export function Composer({ roomTitle, disabled, disabledReason, maxChars, onSend, onTyping }: ComposerProps) {
  const [text, setText] = useState("");
  const box = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    box.current?.focus();
  }, [roomTitle]);

  useEffect(() => {
    const element = box.current;
    if (element === null) return;
    element.style.height = "auto";
    element.style.height = `${Math.min(element.scrollHeight, MAX_HEIGHT_PX)}px`;
  }, [text]);

  const tooLong = text.length > maxChars;
  const send = (): void => {
    if (disabled || tooLong || text.trim() === "") return;
    onSend(text);
    setText("");
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>): void => {
    // Enter while an input method composes a character belongs to the input method.
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      send();
    }
  };

  const left = maxChars - text.length;
  return (
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
        data-testid="composer"
        disabled={disabled}
        onChange={(event) => {
          setText(event.target.value);
          if (event.target.value !== "") onTyping();
        }}
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
  );
}
