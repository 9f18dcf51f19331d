// Who belongs to the room: its members as the gateway lists them, with their roles, and who of
// them is online (live from presence while the room is joined); a click starts a direct message.

import { useEffect, useMemo } from "react";

import type { UserRef } from "../../core/protocol";
import { roleRank } from "../../core/stores/members";
import { Avatar } from "../common/Avatar";
import { useChatClient, useMe, useMembers, useOnline, useRoom } from "../state";

interface Person extends UserRef {
  role: string | null;
  online: boolean;
}

export function PeoplePanel({ roomId }: { roomId: string }) {
  const client = useChatClient();
  const listed = useMembers(roomId);
  const online = useOnline(roomId);
  const joined = useRoom(roomId)?.joined ?? false;
  const meId = useMe().id;
  useEffect(() => {
    void client.loadMembers(roomId);
  }, [client, roomId]);
  const people = useMemo(() => {
    const here = new Set(online.map((p) => p.id));
    const byId = new Map<string, Person>();
    for (const m of listed.members) byId.set(m.id, { ...m, online: joined ? here.has(m.id) : m.online });
    // Someone online in a public room they have not joined for good is in it all the same.
    for (const p of online) if (!byId.has(p.id)) byId.set(p.id, { ...p, role: null, online: true });
    return [...byId.values()].sort(
      (a, b) =>
        Number(b.id === meId) - Number(a.id === meId) ||
        Number(b.online) - Number(a.online) ||
        roleRank(a.role ?? "") - roleRank(b.role ?? "") ||
        a.name.localeCompare(b.name),
    );
  }, [listed.members, online, joined, meId]);
  const onlineCount = people.filter((p) => p.online).length;
  return (
    <aside className="people" aria-label="Members" data-testid="people">
      <h2>
        Members <span className="count">{people.length}</span>
      </h2>
      <p className="muted small people-online">
        {onlineCount} online{listed.more ? " · more members than shown" : ""}
      </p>
      {listed.error && (
        <p className="form-error" role="alert">
          Could not list the members: {listed.error}
        </p>
      )}
      <ul>
        {people.map((person) => (
          <li key={person.id} data-testid="person" data-user={person.name} data-online={person.online}>
            <span className="presence-avatar">
              <Avatar id={person.id} name={person.name} size="sm" />
              <span className={`presence-dot${person.online ? "" : " away"}`} aria-hidden="true" />
            </span>
            <span className="person-name">
              {person.name}
              {person.id === meId && <span className="muted"> (you)</span>}
              <span className="sr-only">{person.online ? ", online" : ", offline"}</span>
            </span>
            {person.role !== null && person.role !== "member" && (
              <span className="role-tag" data-testid="role">
                {person.role}
              </span>
            )}
            {person.id !== meId && (
              <button
                type="button"
                className="ghost small"
                onClick={() => client.startDm(person)}
                aria-label={`Message ${person.name}`}
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
