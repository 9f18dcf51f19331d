// Picking a person: among those met so far, and, when the caller searches the people directory
// (`onFilter`), anyone whose name starts with what is typed. To start a DM, or to add to a room.

import { useState } from "react";

import type { UserRef } from "../../core/protocol";
import { Avatar } from "../common/Avatar";
import { Modal } from "./Modal";

export function PersonPicker({
  title,
  people,
  exclude,
  onPick,
  onClose,
  closeOnPick,
  onFilter,
  found,
}: {
  title: string;
  people: Readonly<Record<string, string>>;
  /** Ids not offered (oneself, people already in the room). */
  exclude: ReadonlySet<string>;
  onPick: (person: UserRef) => Promise<void> | void;
  onClose: () => void;
  closeOnPick: boolean;
  /** Asks the people directory for what was typed (debounced by the caller). */
  onFilter?: (text: string) => void;
  /** The directory's answer for what was typed: null while none is due or it is on its way. */
  found?: { people: readonly UserRef[]; error: string | null } | null;
}) {
  const [filter, setFilter] = useState("");
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const wanted = filter.trim().toLowerCase().replace(/^@+/, "");
  const known = { ...people };
  for (const person of found?.people ?? []) known[person.id] = person.name;
  const matches = Object.entries(known)
    .filter(([id, name]) => !exclude.has(id) && name.toLowerCase().includes(wanted))
    .sort(([, a], [, b]) => a.localeCompare(b))
    .slice(0, 50);
  const searching = onFilter !== undefined && wanted !== "";
  const looking = searching && found === null;
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
          placeholder={onFilter === undefined ? "Find someone you have met in a room" : "Type a name"}
          aria-label="Find a person"
          value={filter}
          onChange={(event) => {
            setFilter(event.target.value);
            onFilter?.(event.target.value);
          }}
        />
        {searching && found?.error && (
          <p className="form-error" role="alert">
            Could not search everyone: {found.error}
          </p>
        )}
        {result && (
          <p className={result.ok ? "form-ok" : "form-error"} role="status">
            {result.text}
          </p>
        )}
        {matches.length === 0 ? (
          <p className="muted">
            {looking
              ? "Looking…"
              : onFilter === undefined
                ? "Nobody found. People appear here once you have seen them in a room."
                : wanted === ""
                  ? "Type the start of someone's name."
                  : "Nobody by that name."}
          </p>
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
