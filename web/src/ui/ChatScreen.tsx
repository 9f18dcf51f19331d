// The signed-in layout: sidebar, the open room, the people in it, and the dialogs. It renders
// again only when another room is opened or a dialog or panel opens; each part below reads the
// stores it shows.

import { useEffect, useMemo, useState } from "react";

import type { Notifications } from "../app/notifications";
import { sidebarSections, type RoomEntry } from "../core/sidebar";
import { AddPeopleDialog, StartDmDialog } from "./dialogs/PeopleDialogs";
import { NewRoomDialog } from "./dialogs/NewRoomDialog";
import { PeoplePanel } from "./room/PeoplePanel";
import { SearchPanel } from "./search/SearchPanel";
import { RoomPane } from "./room/RoomPane";
import { Sidebar, useRoomEntries } from "./sidebar/Sidebar";
import { useActiveRoomId, useChatClient, useRoom, useRoomTitle } from "./state";

type Dialog = "none" | "room" | "dm" | "add" | "search";

export function ChatScreen({ onLogout, notifications }: { onLogout: () => void; notifications?: Notifications }) {
  const client = useChatClient();
  const room = useRoom(useActiveRoomId());
  const [dialog, setDialog] = useState<Dialog>("none");
  const [drawer, setDrawer] = useState(false);
  // The people list sits beside the messages on wide screens; on narrow ones it opens on demand.
  const [peopleOpen, setPeopleOpen] = useState(() => window.matchMedia("(min-width: 1101px)").matches);

  const open = (target: RoomEntry): void => {
    client.openRoom(target.id, target.kind);
    setDrawer(false);
  };
  const close = (): void => setDialog("none");
  // Ctrl+K (⌘K on a Mac) opens the message search from anywhere.
  useEffect(() => {
    const onKey = (event: KeyboardEvent): void => {
      if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "k") {
        event.preventDefault();
        setDialog("search");
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
  // Files dropped beside the open room's messages and box (the sidebar, a dialog) are not
  // attached, and the browser must not open them in place of the app either: that would lose
  // the page and what is typed in it. The room's own drop zone handles its drops before these.
  useEffect(() => {
    const refuse = (event: DragEvent): void => {
      if (event.defaultPrevented || !event.dataTransfer?.types.includes("Files")) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "none";
    };
    window.addEventListener("dragover", refuse);
    window.addEventListener("drop", refuse);
    return () => {
      window.removeEventListener("dragover", refuse);
      window.removeEventListener("drop", refuse);
    };
  }, []);
  return (
    <div className={`layout${drawer ? " drawer-open" : ""}${peopleOpen && room ? " with-people" : ""}`}>
      <DocumentTitle />
      <Sidebar
        onOpen={open}
        onNewRoom={() => setDialog("room")}
        onNewDm={() => setDialog("dm")}
        onSearch={() => setDialog("search")}
        onLogout={onLogout}
        notifications={notifications}
      />
      <div className="scrim" onClick={() => setDrawer(false)} aria-hidden="true" />
      <RoomPane
        room={room}
        peopleOpen={peopleOpen}
        onTogglePeople={() => setPeopleOpen(!peopleOpen)}
        onAddPeople={() => setDialog("add")}
        onShowRooms={() => setDrawer(true)}
        onCreateRoom={() => setDialog("room")}
      />
      {room && peopleOpen && <PeoplePanel roomId={room.id} />}
      {dialog === "room" && <NewRoomDialog onCreate={(name, kind) => client.createRoom(name, kind)} onClose={close} />}
      {dialog === "dm" && <StartDmDialog onClose={close} />}
      {dialog === "add" && room && <AddPeopleDialog room={room} onClose={close} />}
      {dialog === "search" && <SearchPanel roomId={room?.id ?? null} onClose={close} />}
    </div>
  );
}

/** The tab's title: the open room, and how many messages wait unread. */
function DocumentTitle() {
  const room = useRoom(useActiveRoomId());
  const title = useRoomTitle(room);
  const entries = useRoomEntries();
  const unreadTotal = useMemo(() => sidebarSections(entries).unreadTotal, [entries]);
  useEffect(() => {
    const where = room === undefined ? "Chat" : `${room.kind === "dm" ? "" : "#"}${title} · Chat`;
    document.title = unreadTotal > 0 ? `(${unreadTotal}) ${where}` : where;
  }, [unreadTotal, room, title]);
  return null;
}
