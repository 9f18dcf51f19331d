// The person pickers the chat screen opens, with the people they offer.

import type { RoomState } from "../../core/stores/rooms";
import { useChatClient, useMe, useOnline, usePeople, usePeopleFound, useRoomTitle } from "../state";
import { PersonPicker } from "./PersonPicker";

/** The directory's answer for what is typed now, or null while it is on its way. */
function useFound() {
  const search = usePeopleFound();
  return search.answered ? search : null;
}

export function StartDmDialog({ onClose }: { onClose: () => void }) {
  const client = useChatClient();
  const me = useMe();
  const found = useFound();
  return (
    <PersonPicker
      title="New direct message"
      people={usePeople()}
      exclude={new Set([me.id])}
      onPick={(person) => client.startDm(person)}
      onClose={() => {
        client.findPeople("");
        onClose();
      }}
      closeOnPick
      onFilter={(text) => client.findPeople(text)}
      found={found}
    />
  );
}

export function AddPeopleDialog({ room, onClose }: { room: RoomState; onClose: () => void }) {
  const client = useChatClient();
  const me = useMe();
  const online = useOnline(room.id);
  const found = useFound();
  return (
    <PersonPicker
      title={`Add people to ${useRoomTitle(room)}`}
      people={usePeople()}
      exclude={new Set([me.id, ...online.map((p) => p.id)])}
      onPick={(person) => client.addMember(room.id, person)}
      onClose={() => {
        client.findPeople("");
        onClose();
      }}
      closeOnPick={false}
      onFilter={(text) => client.findPeople(text)}
      found={found}
    />
  );
}
