// Creating a room and starting a direct message.

import { useEffect, useRef, useState, type FormEvent, type ReactNode } from "react";

import { ROOM_NAME, type UserRef } from "../core/protocol";
import { Avatar } from "./Avatar";

function Modal({ title, onClose, children }: { title: string; onClose: () => void; children: ReactNode }) {
  useEffect(() => {
    const onKey = (event: KeyboardEvent): void => {
      if (event.key === "Escape") onClose();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onClose]);
  return (
    <div className="overlay" onMouseDown={(event) => event.target === event.currentTarget && onClose()}>
      <div className="modal" role="dialog" aria-modal="true" aria-label={title}>
        <header className="modal-head">
          <h2>{title}</h2>
          <button type="button" className="icon-button" aria-label="Close" onClick={onClose}>
            ×
          </button>
        </header>
        {children}
      </div>
    </div>
  );
}

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

export function PersonPicker({
  title,
  people,
  exclude,
  onPick,
  onClose,
  closeOnPick,
}: {
  title: string;
  people: Readonly<Record<string, string>>;
  /** Ids not offered (oneself, people already in the room). */
  exclude: ReadonlySet<string>;
  onPick: (person: UserRef) => Promise<void> | void;
  onClose: () => void;
  closeOnPick: boolean;
}) {
  const [filter, setFilter] = useState("");
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const wanted = filter.trim().toLowerCase();
  const matches = Object.entries(people)
    .filter(([id, name]) => !exclude.has(id) && name.toLowerCase().includes(wanted))
    .sort(([, a], [, b]) => a.localeCompare(b))
    .slice(0, 50);
  const pick = async (person: UserRef): Promise<void> => {
    try {
      await onPick(person);
      if (closeOnPick) onClose();
      else setResult({ ok: true, text: `Added ${person.name}.` });
    } catch (failure) {
      setResult({ ok: false, text: failure instanceof Error ? failure.message : String(failure) });
    }
  };
  return (
    <Modal title={title} onClose={onClose}>
      <div className="modal-body">
        <input
          autoFocus
          placeholder="Find someone you have met in a room"
          aria-label="Find a person"
          value={filter}
          onChange={(event) => setFilter(event.target.value)}
        />
        {result && (
          <p className={result.ok ? "form-ok" : "form-error"} role="status">
            {result.text}
          </p>
        )}
        {matches.length === 0 ? (
          <p className="muted">Nobody found. People appear here once you have seen them in a room.</p>
        ) : (
          <ul className="pick-list">
            {matches.map(([id, name]) => (
              <li key={id}>
                <button type="button" onClick={() => void pick({ id, name })}>
                  <Avatar id={id} name={name} size="sm" />
                  <span>{name}</span>
                </button>
              </li>
            ))}
          </ul>
        )}
      </div>
    </Modal>
  );
}
