// Who is in the room right now; a click starts a direct message.

import { Avatar } from "../common/Avatar";
import { useChatClient, useMe, useOnline } from "../state";

export function PeoplePanel({ roomId }: { roomId: string }) {
  const client = useChatClient();
  const online = useOnline(roomId);
  const meId = useMe().id;
  const people = [...online].sort((a, b) => (a.id === meId ? -1 : b.id === meId ? 1 : a.name.localeCompare(b.name)));
  return (
    <aside className="people" aria-label="People online" data-testid="people">
      <h2>
        Online <span className="count">{people.length}</span>
      </h2>
      <ul>
        {people.map((person) => (
          <li key={person.id} data-testid="person" data-user={person.name}>
            <span className="presence-avatar">
              <Avatar id={person.id} name={person.name} size="sm" />
              <span className="presence-dot" aria-hidden="true" />
            </span>
            <span className="person-name">
              {person.name}
              {person.id === meId && <span className="muted"> (you)</span>}
            </span>
            {person.id !== meId && (
              <button
                type="button"
                className="ghost small"
                onClick={() => client.startDm(person)}
                title={`Send ${person.name} a direct message`}
              >
                Message
              </button>
            )}
          </li>
        ))}
      </ul>
    </aside>
  );
}
