// Public rooms one could join: the directory's liveliest few, and a search over all of them.

import { useMemo, useState } from "react";

import { directoryEntry, findRooms, type RoomEntry } from "../../core/sidebar";
import { searchQuery } from "../../core/stores/search";
import { useChatClient, useStore } from "../state";
import { RoomIcon } from "./RoomLink";

// A handful of public rooms is a sidebar; more are a search.
const BROWSE_SHOWN = 8;

interface PublicRoomsProps {
  /** The directory's page and the other public rooms known, in the order to show them. */
  rooms: RoomEntry[];
  /** The gateway has more public rooms than it listed. */
  more: boolean;
  /** Rooms in the sidebar already, left out of what a search finds. */
  kept: ReadonlySet<string>;
  me: string;
  onOpen: (room: RoomEntry) => void;
}

export function PublicRooms({ rooms, more, kept, me, onOpen }: PublicRoomsProps) {
  const client = useChatClient();
  const [text, setText] = useState("");
  const search = useStore(client.stores.search, (s) => s);
  const query = searchQuery(text);
  const searching = query !== "";
  const answer = searching && search.query === query ? search : null;
  // What the client holds matches at once; the gateway's answer adds the rest of the directory.
  const found = useMemo(() => {
    if (!searching) return rooms;
    const local = findRooms(rooms, query);
    const seen = new Set(local.map((r) => r.id));
    const remote = (answer?.rooms ?? []).filter((r) => !seen.has(r.id) && !kept.has(r.id)).map(directoryEntry);
    return [...local, ...remote];
  }, [rooms, query, searching, answer, kept]);
  const shown = found.slice(0, BROWSE_SHOWN);
  const note = hint({
    searching,
    answered: answer?.answered ?? false,
    error: answer?.error ?? null,
    hidden: found.length - shown.length,
    nothing: found.length === 0,
    more: searching ? (answer?.more ?? false) : more,
  });
  const choose = (typed: string): void => {
    setText(typed);
    client.findRooms(typed);
  };
  return (
    <section>
      <div className="section-head">
        <h2>Public rooms</h2>
        <span className="muted small" data-testid="public-count">
          {more ? `${rooms.length}+` : rooms.length}
        </span>
      </div>
      {(rooms.length > BROWSE_SHOWN || more) && (
        <input
          className="find"
          type="search"
          placeholder="Find a room"
          aria-label="Find a public room"
          data-testid="find-room"
          value={text}
          onChange={(event) => choose(event.target.value)}
        />
      )}
      <ul>
        {shown.map((room) => (
          <li key={room.id}>
            <button
              type="button"
              className="room-link browse"
              data-testid="browse-room"
              data-room={room.id}
              onClick={() => {
                choose("");
                onOpen(room);
              }}
            >
              <RoomIcon room={room} me={me} />
              <span className="room-name">{room.title}</span>
              <span className="join-hint">Join</span>
            </button>
          </li>
        ))}
      </ul>
      {note !== "" && (
        <p className="empty-hint" data-testid="find-room-hint">
          {note}
        </p>
      )}
    </section>
  );
}

interface HintInputs {
  searching: boolean;
  answered: boolean;
  error: string | null;
  /** Rooms found and not shown. */
  hidden: number;
  nothing: boolean;
  /** The gateway has more than it sent. */
  more: boolean;
}

/** The line under the list: what else there is, and how to reach it. */
function hint({ searching, answered, error, hidden, nothing, more }: HintInputs): string {
  if (!searching) {
    if (more) return "More rooms: type a name to find one.";
    return hidden > 0 ? `${hidden} more; type to narrow down.` : "";
  }
  if (error !== null) return `Could not search every room: ${error}`;
  if (!answered) return nothing ? "Looking…" : "Looking for more…";
  if (nothing) return "No public room matches.";
  return hidden > 0 || more ? "More rooms match; type more of the name." : "";
}
