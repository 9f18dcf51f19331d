// The signed-in layout: sidebar, the open room, the people in it.

import { useCallback, useEffect, useState } from "react";

import type { ChatStore, RoomView } from "../core/chat";
import { sidebarSections } from "../core/sidebar";
import { typingText } from "../core/typing";
import { Composer } from "./Composer";
import { NewRoomDialog, PersonPicker } from "./Dialogs";
import { MessageList } from "./MessageList";
import { PeoplePanel } from "./PeoplePanel";
import { LockIcon, Sidebar } from "./Sidebar";
import { useChat } from "./useChat";

type Dialog = "none" | "room" | "dm" | "add";

export function ChatScreen({ store, onLogout }: { store: ChatStore; onLogout: () => void }) {
  const state = useChat(store);
  const [dialog, setDialog] = useState<Dialog>("none");
  const [drawer, setDrawer] = useState(false);
  // The people list sits beside the messages on wide screens; on narrow ones it opens on demand.
  const [peopleOpen, setPeopleOpen] = useState(() => window.matchMedia("(min-width: 1101px)").matches);
  const room = state.activeRoom === null ? undefined : state.rooms[state.activeRoom];

  const { unreadTotal } = sidebarSections(state);
  useEffect(() => {
    const where = room === undefined ? "Chat" : `${room.kind === "dm" ? "" : "#"}${room.title} · Chat`;
    document.title = unreadTotal > 0 ? `(${unreadTotal}) ${where}` : where;
  }, [unreadTotal, room]);

  const open = (target: RoomView): void => {
    store.openRoom(target.id, target.kind);
    setDrawer(false);
  };
  const activeId = room?.id;
  const loadOlder = useCallback(() => {
    if (activeId !== undefined) void store.loadOlder(activeId);
  }, [store, activeId]);

  const offline = state.connection.phase !== "online";
  const mayPost = room !== undefined && (!room.readOnly || state.roles.some((r) => r === "moderator" || r === "admin"));
  return (
    <div className={`layout${drawer ? " drawer-open" : ""}${peopleOpen && room ? " with-people" : ""}`}>
      <Sidebar
        state={state}
        onOpen={open}
        onNewRoom={() => setDialog("room")}
        onNewDm={() => setDialog("dm")}
        onLogout={onLogout}
        onRetry={() => store.reconnectNow()}
      />
      <div className="scrim" onClick={() => setDrawer(false)} aria-hidden="true" />
      <main className="room" aria-label={room ? room.title : "No room open"}>
        <header className="room-head">
          <button type="button" className="icon-button menu" aria-label="Show rooms" onClick={() => setDrawer(true)}>
            <svg viewBox="0 0 24 24" width="20" height="20" fill="none" stroke="currentColor" strokeWidth="2">
              <path d="M4 7h16M4 12h16M4 17h16" />
            </svg>
          </button>
          {room ? (
            <>
              <h1 data-testid="room-title">
                <span className="room-kind" aria-hidden="true">
                  {room.kind === "private" ? <LockIcon /> : room.kind === "dm" ? "@" : "#"}
                </span>
                {room.title}
              </h1>
              <div className="room-actions">
                <button
                  type="button"
                  className={`ghost small${peopleOpen ? " pressed" : ""}`}
                  aria-pressed={peopleOpen}
                  onClick={() => setPeopleOpen(!peopleOpen)}
                  data-testid="toggle-people"
                >
                  <span className="online-dot" aria-hidden="true" /> {room.online.length} online
                </button>
                {room.kind === "private" && (
                  <button type="button" className="ghost small" onClick={() => setDialog("add")}>
                    Add people
                  </button>
                )}
                <button type="button" className="ghost small" onClick={() => store.leaveRoom(room.id)}>
                  Leave
                </button>
              </div>
            </>
          ) : (
            <h1>Chat</h1>
          )}
        </header>
        {offline && (
          <div className="banner" role="status" data-testid="offline-banner">
            {state.connection.phase === "stopped"
              ? "Disconnected."
              : "Connection lost — reconnecting. Messages you send now go out as soon as it is back."}
          </div>
        )}
        {state.notice && (
          <div className="banner notice" role="alert">
            {state.notice}
            <button type="button" className="link small" onClick={() => store.dismissNotice()}>
              Dismiss
            </button>
          </div>
        )}
        {room ? (
          <>
            {room.error && (
              <div className="banner error" role="alert">
                {room.error}
              </div>
            )}
            <MessageList
              key={room.id}
              room={room}
              meId={state.me.id}
              onLoadOlder={loadOlder}
              onRetry={(id) => store.retry(room.id, id)}
              onDiscard={(id) => store.discard(room.id, id)}
            />
            <div className="typing" aria-live="polite" data-testid="typing">
              {typingText(room.typing)}
            </div>
            <Composer
              roomTitle={room.kind === "dm" ? room.title : `#${room.title}`}
              disabled={!room.kept || !mayPost}
              disabledReason={room.kept ? "This room is read-only." : "You are not in this room."}
              maxChars={state.maxBodyChars}
              onSend={(body) => store.send(room.id, body)}
              onTyping={() => store.typing(room.id)}
            />
          </>
        ) : (
          <div className="welcome">
            <div className="brand-mark big" aria-hidden="true" />
            <h2>Hello, {state.me.name}</h2>
            <p className="muted">Pick a room on the left, join a public one, or create your own.</p>
            <button type="button" className="primary" onClick={() => setDialog("room")}>
              Create a room
            </button>
          </div>
        )}
      </main>
      {room && peopleOpen && (
        <PeoplePanel online={room.online} meId={state.me.id} onMessage={(person) => store.startDm(person)} />
      )}
      {dialog === "room" && (
        <NewRoomDialog onCreate={(name, kind) => store.createRoom(name, kind)} onClose={() => setDialog("none")} />
      )}
      {dialog === "dm" && (
        <PersonPicker
          title="New direct message"
          people={state.people}
          exclude={new Set([state.me.id])}
          onPick={(person) => store.startDm(person)}
          onClose={() => setDialog("none")}
          closeOnPick
        />
      )}
      {dialog === "add" && room && (
        <PersonPicker
          title={`Add people to ${room.title}`}
          people={state.people}
          exclude={new Set([state.me.id, ...room.online.map((p) => p.id)])}
          onPick={(person) => store.addMember(room.id, person)}
          onClose={() => setDialog("none")}
          closeOnPick={false}
        />
      )}
    </div>
  );
}
