// Public rooms one could join: a handful as a list, hundreds with a search box.

import { useState } from "react";

import { findRooms, type RoomEntry } from "../../core/sidebar";
import { RoomIcon } from "./RoomLink";

// A handful of public rooms is a sidebar; hundreds are a search.
const BROWSE_SHOWN = 8;

interface PublicRoomsProps {
  rooms: RoomEntry[];
  me: string;
  onOpen: (room: RoomEntry) => void;
}

export function PublicRooms({ rooms, me, onOpen }: PublicRoomsProps) {
  const [query, setQuery] = useState("");
  const found = findRooms(rooms, query);
  const shown = found.slice(0, BROWSE_SHOWN);
  return (
    <section>
      <div className="section-head">
        <h2>Public rooms</h2>
        <span className="muted small">{rooms.length}</span>
      </div>
      {rooms.length > BROWSE_SHOWN && (
        <input
          className="find"
          type="search"
          placeholder="Find a room"
          aria-label="Find a public room"
          data-testid="find-room"
          value={query}
          onChange={(event) => setQuery(event.target.value)}
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
                setQuery("");
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
      {found.length > shown.length && (
        <p className="empty-hint">{found.length - shown.length} more; type to narrow down.</p>
      )}
      {found.length === 0 && <p className="empty-hint">No public room matches.</p>}
    </section>
  );
}
