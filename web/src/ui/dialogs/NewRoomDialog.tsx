// Creating a room: a name the gateway accepts (shown as typed, sent normalised) and who may join.

import { useEffect, useRef, useState, type FormEvent } from "react";

import { ROOM_NAME } from "../../core/protocol";
import { Modal } from "./Modal";

export function NewRoomDialog({
  onCreate,
  onClose,
}: {
  onCreate: (name: string, kind: "public" | "private") => Promise<void>;
  onClose: () => void;
}) {
  const [name, setName] = useState("");
  const [kind, setKind] = useState<"public" | "private">("public");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);

  const normalized = name.trim().toLowerCase().replace(/\s+/g, "-");
  const valid = ROOM_NAME.test(normalized);
  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    if (!valid) return;
    setBusy(true);
    setError(null);
    try {
      await onCreate(normalized, kind);
      onClose();
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
      setBusy(false);
    }
  };

  return (
    <Modal title="Create a room" onClose={onClose}>
      <form className="modal-body" onSubmit={(event) => void submit(event)}>
        <label>
          Name
          <div className="prefixed">
            <span aria-hidden="true">#</span>
            <input
              ref={input}
              value={name}
              maxLength={64}
              placeholder="e.g. design-reviews"
              data-testid="new-room-name"
              onChange={(event) => setName(event.target.value)}
            />
          </div>
          <span className="hint">Lower-case letters, digits, - and _.</span>
        </label>
        <fieldset className="choice">
          <legend>Who can join</legend>
          <label className={kind === "public" ? "selected" : ""}>
            <input type="radio" name="kind" checked={kind === "public"} onChange={() => setKind("public")} />
            <span>
              <strong>Public</strong>
              <span className="muted">Anyone can find and join it.</span>
            </span>
          </label>
          <label className={kind === "private" ? "selected" : ""}>
            <input type="radio" name="kind" checked={kind === "private"} onChange={() => setKind("private")} />
            <span>
              <strong>Private</strong>
              <span className="muted">Only people you add.</span>
            </span>
          </label>
        </fieldset>
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        <footer className="modal-actions">
          <button type="button" className="ghost" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={!valid || busy} data-testid="create-room">
            Create room
          </button>
        </footer>
      </form>
    </Modal>
  );
}
