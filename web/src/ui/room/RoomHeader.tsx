// The open room's name and topic and what one can do with it: show its members, add people,
// set its topic (its staff), leave (on phones too).

import { useState } from "react";

import type { RoomState } from "../../core/stores/rooms";
import { mayEditTopic } from "../../core/topic";
import { LockIcon, MenuIcon, PencilIcon } from "../common/icons";
import { TopicDialog } from "../dialogs/TopicDialog";
import { useChatClient, useOnline, useRoles, useRoomTitle } from "../state";

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
  const mayEdit = mayEditTopic(room, useRoles());
  // The room whose topic is being edited: the dialog belongs to that room, not to whichever is open.
  const [editing, setEditing] = useState<string | null>(null);
  return (
    <>
      <div className="room-heading">
        <h1 data-testid="room-title">
          <span className="room-kind" aria-hidden="true">
            {room.kind === "private" ? <LockIcon /> : room.kind === "dm" ? "@" : "#"}
          </span>
          {title}
        </h1>
        {room.topic !== "" && (
          <p className="room-topic" data-testid="room-topic" title={room.topic}>
            {room.topic}
          </p>
        )}
      </div>
      <div className="room-actions">
        {mayEdit && (
          <button
            type="button"
            className="ghost small"
            aria-label="Edit topic"
            onClick={() => setEditing(room.id)}
            data-testid="edit-topic"
          >
            <PencilIcon />
            <span className="wide-only"> Topic</span>
          </button>
        )}
        <button
          type="button"
          className={`ghost small${peopleOpen ? " pressed" : ""}`}
          aria-pressed={peopleOpen}
          aria-label={`Members, ${online.length} online`}
          onClick={onTogglePeople}
          data-testid="toggle-people"
        >
          <span className="online-dot" aria-hidden="true" /> {online.length}
          <span className="wide-only"> online</span>
        </button>
        {room.kind === "private" && (
          <button type="button" className="ghost small" onClick={onAddPeople}>
            Add people
          </button>
        )}
        <button
          type="button"
          className="ghost small leave"
          aria-label={`Leave ${room.kind === "dm" ? title : `#${title}`}`}
          onClick={() => client.leaveRoom(room.id)}
          data-testid="leave-room"
        >
          Leave
        </button>
      </div>
      {mayEdit && editing === room.id && (
        <TopicDialog
          topic={room.topic}
          onSave={(topic) => client.setTopic(room.id, topic)}
          onClose={() => setEditing(null)}
        />
      )}
    </>
  );
}
