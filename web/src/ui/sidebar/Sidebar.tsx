// Rooms, direct messages and public rooms to join, with unread badges; who is signed in.

import { useMemo } from "react";

import type { Notifications } from "../../app/notifications";
import { roomEntries, sidebarSections, type RoomEntry } from "../../core/sidebar";
import { Avatar } from "../common/Avatar";
import { useActiveRoomId, useChatClient, useConnection, useMe, useSessionId, useStore } from "../state";
import { ConnectionStatus } from "./ConnectionStatus";
import { NotificationsToggle } from "./NotificationsToggle";
import { PublicRooms } from "./PublicRooms";
import { RoomLink } from "./RoomLink";

interface SidebarProps {
  onOpen: (room: RoomEntry) => void;
  onNewRoom: () => void;
  onNewDm: () => void;
  /** Opens the message search. */
  onSearch?: () => void;
  onLogout: () => void;
  /** The browser's notifications, when the page may offer them. */
  notifications?: Notifications;
}

export function Sidebar({ onOpen, onNewRoom, onNewDm, onSearch, onLogout, notifications }: SidebarProps) {
  return (
    <nav className="sidebar" aria-label="Rooms">
      <header className="sidebar-head">
        <div className="brand">
          <div className="brand-mark" aria-hidden="true" />
          <span>Chat</span>
        </div>
        <SidebarConnection />
      </header>
      {onSearch && (
        <button type="button" className="search-open" onClick={onSearch} title="Search messages (Ctrl+K)">
          Search messages <kbd>Ctrl K</kbd>
        </button>
      )}
      <RoomSections onOpen={onOpen} onNewRoom={onNewRoom} onNewDm={onNewDm} />
      {notifications && <NotificationsToggle notifications={notifications} />}
      <SignedInAs onLogout={onLogout} />
    </nav>
  );
}

function SidebarConnection() {
  const client = useChatClient();
  return <ConnectionStatus state={useConnection()} session={useSessionId()} onRetry={() => client.reconnectNow()} />;
}

/** The rooms as sections; the one thing here that changes with every message (DM order, badges). */
export function useRoomEntries(): RoomEntry[] {
  const { stores } = useChatClient();
  const rooms = useStore(stores.rooms, (s) => s);
  const unread = useStore(stores.unread, (s) => s);
  const people = useStore(stores.people, (s) => s);
  const messages = useStore(stores.messages, (s) => s);
  const me = useMe().id;
  return useMemo(() => roomEntries({ rooms, unread, people, messages, me }), [rooms, unread, people, messages, me]);
}

function RoomSections({ onOpen, onNewRoom, onNewDm }: Omit<SidebarProps, "onLogout" | "notifications" | "onSearch">) {
  const { stores } = useChatClient();
  const entries = useRoomEntries();
  const directory = useStore(stores.directory, (s) => s);
  const { rooms, directs, browse } = useMemo(() => sidebarSections(entries, directory.rooms), [entries, directory]);
  const kept = useMemo(() => new Set(entries.filter((r) => r.kept).map((r) => r.id)), [entries]);
  const me = useMe().id;
  const active = useActiveRoomId();
  return (
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
              <RoomLink key={room.id} room={room} me={me} active={room.id === active} onOpen={onOpen} />
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
          <p className="empty-hint">Press + and type a name to talk one-to-one.</p>
        ) : (
          <ul>
            {directs.map((room) => (
              <RoomLink key={room.id} room={room} me={me} active={room.id === active} onOpen={onOpen} />
            ))}
          </ul>
        )}
      </section>
      {(browse.length > 0 || directory.more) && (
        <PublicRooms rooms={browse} more={directory.more} kept={kept} me={me} onOpen={onOpen} />
      )}
    </div>
  );
}

function SignedInAs({ onLogout }: { onLogout: () => void }) {
  const me = useMe();
  return (
    <footer className="me">
      <Avatar id={me.id} name={me.name} />
      <div className="me-name">
        <strong data-testid="me">{me.name}</strong>
        <span className="muted small">Signed in</span>
      </div>
      <button type="button" className="ghost small" onClick={onLogout} data-testid="logout">
        Sign out
      </button>
    </footer>
  );
}
