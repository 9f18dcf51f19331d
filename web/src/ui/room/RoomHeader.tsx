// The open room's name and what one can do with it: show who is online, add people, leave.

import type { RoomState } from "../../core/stores/rooms";
import { LockIcon, MenuIcon } from "../common/icons";
import { useChatClient, useOnline, useRoomTitle } from "../state";

interface RoomHeaderProps {
  room: RoomState | undefined;
  peopleOpen: boolean;
  onTogglePeople: () => void;
  onAddPeople: () => void;
  onShowRooms: () => void;
}

export function RoomHeader({ room, onShowRooms, ...actions }: RoomHeaderProps) {
  return (
    <header className="room-head">
      <button type="button" className="icon-button menu" aria-label="Show rooms" onClick={onShowRooms}>
        <MenuIcon />
      </button>
      {room ? <RoomHeading room={room} {...actions} /> : <h1>Chat</h1>}
    </header>
  );
}

function RoomHeading({
  room,
  peopleOpen,
  onTogglePeople,
  onAddPeople,
}: Omit<RoomHeaderProps, "room" | "onShowRooms"> & { room: RoomState }) {
  const client = useChatClient();
  const title = useRoomTitle(room);
  const online = useOnline(room.id);
  return (
    <>
      <h1 data-testid="room-title">
        <span className="room-kind" aria-hidden="true">
          {room.kind === "private" ? <LockIcon /> : room.kind === "dm" ? "@" : "#"}
        </span>
        {title}
      </h1>
      <div className="room-actions">
        <button
          type="button"
          className={`ghost small${peopleOpen ? " pressed" : ""}`}
          aria-pressed={peopleOpen}
          onClick={onTogglePeople}
          data-testid="toggle-people"
        >
          <span className="online-dot" aria-hidden="true" /> {online.length} online
        </button>
        {room.kind === "private" && (
          <button type="button" className="ghost small" onClick={onAddPeople}>
            Add people
          </button>
        )}
        <button type="button" className="ghost small" onClick={() => client.leaveRoom(room.id)}>
          Leave
        </button>
      </div>
    </>
  );
}
