// Rooms, direct messages and public rooms to join, with unread badges; who is signed in.

import { useState } from "react";

import type { ChatState, RoomView } from "../core/chat";
import type { ConnectionState } from "../core/connection";
import { dmPartner } from "../core/protocol";
import { badgeText, findRooms, sidebarSections } from "../core/sidebar";
import { Avatar } from "./Avatar";
import { ConnectionStatus } from "./ConnectionStatus";

interface SidebarProps {
  state: ChatState;
  onOpen: (room: RoomView) => void;
  onNewRoom: () => void;
  onNewDm: () => void;
  onLogout: () => void;
  onRetry: () => void;
}

export function RoomIcon({ room, me }: { room: RoomView; me: string }) {
  if (room.kind === "dm") {
    return <Avatar id={dmPartner(room.id, me) ?? room.id} name={room.title} size="sm" />;
  }
  return (
    <span className="room-icon" aria-hidden="true">
      {room.kind === "private" ? <LockIcon /> : "#"}
    </span>
  );
}

export function LockIcon() {
  return (
    <svg viewBox="0 0 16 16" width="13" height="13" fill="none" stroke="currentColor" strokeWidth="1.6">
      <rect x="3" y="7" width="10" height="7" rx="1.5" />
      <path d="M5.5 7V5a2.5 2.5 0 0 1 5 0v2" />
    </svg>
  );
}

function RoomLink({
  room,
  me,
  active,
  onOpen,
}: {
  room: RoomView;
  me: string;
  active: boolean;
  onOpen: (room: RoomView) => void;
}) {
  const unread = room.unread > 0 && !active;
  return (
    <li>
      <button
        type="button"
        className={`room-link${active ? " active" : ""}${unread ? " unread" : ""}`}
        aria-current={active ? "page" : undefined}
        data-testid="room-link"
        data-room={room.id}
        onClick={() => onOpen(room)}
      >
        <RoomIcon room={room} me={me} />
        <span className="room-name">{room.title}</span>
        {unread && (
          <span className="badge" data-testid="unread-badge" aria-label={`${room.unread} unread`}>
            {badgeText(room.unread)}
          </span>
        )}
      </button>
    </li>
  );
}

export function Sidebar({ state, onOpen, onNewRoom, onNewDm, onLogout, onRetry }: SidebarProps) {
  const { rooms, directs, browse } = sidebarSections(state);
  const connection: ConnectionState = state.connection;
  return (
    <nav className="sidebar" aria-label="Rooms">
      <header className="sidebar-head">
        <div className="brand">
          <div className="brand-mark" aria-hidden="true" />
          <span>Chat</span>
        </div>
        <ConnectionStatus state={connection} session={state.session} onRetry={onRetry} />
      </header>
      <div className="sidebar-scroll">
        <section>
          <div className="section-head">
            <h2>Rooms</h2>
            <button type="button" className="icon-button" title="Create a room" aria-label="Create a room" onClick={onNewRoom}>
              +
            </button>
          </div>
          {rooms.length === 0 ? (
            <p className="empty-hint">No rooms yet. Create one or join one below.</p>
          ) : (
            <ul>
              {rooms.map((room) => (
                <RoomLink key={room.id} room={room} me={state.me.id} active={room.id === state.activeRoom} onOpen={onOpen} />
              ))}
            </ul>
          )}
        </section>
        <section>
          <div className="section-head">
            <h2>Direct messages</h2>
            <button type="button" className="icon-button" title="New message" aria-label="Start a direct message" onClick={onNewDm}>
              +
            </button>
          </div>
          {directs.length === 0 ? (
            <p className="empty-hint">Pick someone from a room's people to talk one-to-one.</p>
          ) : (
            <ul>
              {directs.map((room) => (
                <RoomLink key={room.id} room={room} me={state.me.id} active={room.id === state.activeRoom} onOpen={onOpen} />
              ))}
            </ul>
          )}
        </section>
        {browse.length > 0 && <Browse rooms={browse} me={state.me.id} onOpen={onOpen} />}
      </div>
      <footer className="me">
        <Avatar id={state.me.id} name={state.me.name} />
        <div className="me-name">
          <strong data-testid="me">{state.me.name}</strong>
          <span className="muted small">Signed in</span>
        </div>
        <button type="button" className="ghost small" onClick={onLogout} data-testid="logout">
          Sign out
        </button>
      </footer>
    </nav>
  );
}

// A handful of public rooms is a sidebar; hundreds are a search.
const BROWSE_SHOWN = 8;

function Browse({ rooms, me, onOpen }: { rooms: RoomView[]; me: string; onOpen: (room: RoomView) => void }) {
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
