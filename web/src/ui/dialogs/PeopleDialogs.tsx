// The person pickers the chat screen opens, with the people they offer.

import type { RoomState } from "../../core/stores/rooms";
import { useChatClient, useMe, useOnline, usePeople, useRoomTitle } from "../state";
import { PersonPicker } from "./PersonPicker";

export function StartDmDialog({ onClose }: { onClose: () => void }) {
  const client = useChatClient();
  const me = useMe();
  return (
    <PersonPicker
      title="New direct message"
      people={usePeople()}
      exclude={new Set([me.id])}
      onPick={(person) => client.startDm(person)}
      onClose={onClose}
      closeOnPick
    />
  );
}

export function AddPeopleDialog({ room, onClose }: { room: RoomState; onClose: () => void }) {
  const client = useChatClient();
  const me = useMe();
  const online = useOnline(room.id);
  return (
    <PersonPicker
      title={`Add people to ${useRoomTitle(room)}`}
      people={usePeople()}
      exclude={new Set([me.id, ...online.map((p) => p.id)])}
      onPick={(person) => client.addMember(room.id, person)}
      onClose={onClose}
      closeOnPick={false}
    />
  );
}
