// One room in the sidebar: its icon, its name and how many messages wait unread.

import { memo } from "react";

import { dmPartner } from "../../core/protocol";
import { badgeText, type RoomEntry } from "../../core/sidebar";
import { Avatar } from "../common/Avatar";
import { LockIcon } from "../common/icons";

export function RoomIcon({ room, me }: { room: Pick<RoomEntry, "id" | "kind" | "title">; me: string }) {
  if (room.kind === "dm") {
    return <Avatar id={dmPartner(room.id, me) ?? room.id} name={room.title} size="sm" />;
  }
  return (
    <span className="room-icon" aria-hidden="true">
      {room.kind === "private" ? <LockIcon /> : "#"}
    </span>
  );
}

interface RoomLinkProps {
  room: RoomEntry;
  me: string;
  active: boolean;
  onOpen: (room: RoomEntry) => void;
}

/**
 * Rendered again only when what it shows changes: the entries are computed afresh on every
 * message, and a person with hundreds of rooms would otherwise render them all each time.
 */
export const RoomLink = memo(RoomLinkRow, (before, after) => {
  const [a, b] = [before.room, after.room];
  return (
    before.me === after.me &&
    before.active === after.active &&
    before.onOpen === after.onOpen &&
    a.id === b.id &&
    a.kind === b.kind &&
    a.title === b.title &&
    a.unread === b.unread &&
    a.mentions === b.mentions
  );
});

function RoomLinkRow({ room, me, active, onOpen }: RoomLinkProps) {
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
          <span
            className={`badge${room.mentions > 0 ? " mention" : ""}`}
            data-testid="unread-badge"
            aria-label={room.mentions > 0 ? `${room.unread} unread, ${room.mentions} mentioning you` : `${room.unread} unread`}
          >
            {room.mentions > 0 ? `@ ${badgeText(room.unread)}` : badgeText(room.unread)}
          </span>
        )}
      </button>
    </li>
  );
}
