// Setting the open room's topic: one line, checked as the gateway would check it while typing,
// and the gateway's own reason shown when it refuses.

import { useEffect, useId, useRef, useState, type FormEvent, type KeyboardEvent } from "react";

import { MAX_TOPIC_CHARS, topicLength, topicProblem } from "../../core/topic";
import { Modal } from "./Modal";

export function TopicDialog({
  topic,
  onSave,
  onClose,
}: {
  topic: string;
  onSave: (topic: string) => Promise<void>;
  onClose: () => void;
}) {
  const [text, setText] = useState(topic);
  const [refusal, setRefusal] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLTextAreaElement>(null);
  const id = useId();
  // Focused with the old topic selected: typing replaces it, an arrow key keeps it to edit.
  useEffect(() => {
    input.current?.focus();
    input.current?.select();
  }, []);

  // Spaces around the words are not part of the topic; an empty box clears it.
  const next = text.trim();
  const problem = topicProblem(next);
  const error = problem ?? refusal;
  const submit = async (event?: FormEvent): Promise<void> => {
    event?.preventDefault();
    if (problem !== null || busy) return;
    setBusy(true);
    setRefusal(null);
    try {
      await onSave(next);
      onClose();
    } catch (failure) {
      setRefusal(failure instanceof Error ? failure.message : String(failure));
      setBusy(false);
    }
  };
  // A topic is one line: Enter saves it (unless an input method is composing a character).
  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>): void => {
    if (event.key === "Enter" && !event.nativeEvent.isComposing) {
      event.preventDefault();
      void submit();
    }
  };

  return (
    <Modal title="Room topic" onClose={onClose}>
      <form className="modal-body" onSubmit={(event) => void submit(event)}>
        <div className="field">
          <label htmlFor={`${id}-topic`}>Topic</label>
          <textarea
            id={`${id}-topic`}
            ref={input}
            rows={3}
            value={text}
            placeholder="What this room is about"
            aria-describedby={`${id}-hint`}
            aria-invalid={problem !== null}
            data-testid="topic-input"
            onChange={(event) => {
              setText(event.target.value);
              setRefusal(null);
            }}
            onKeyDown={onKeyDown}
          />
          <div className="field-foot">
            <span className="hint" id={`${id}-hint`}>
              One line, shown under the room's name. Leave it empty to clear it.
            </span>
            <span className={`hint count${topicLength(next) > MAX_TOPIC_CHARS ? " over" : ""}`} data-testid="topic-count">
              {topicLength(next)}/{MAX_TOPIC_CHARS}
            </span>
          </div>
        </div>
        {error !== null && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        <footer className="modal-actions">
          <button type="button" className="ghost" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={problem !== null || busy}>
            Save
          </button>
        </footer>
      </form>
    </Modal>
  );
}
