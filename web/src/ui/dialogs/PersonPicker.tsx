// Picking a person among those met so far: to start a direct message, or to add to a room.

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
