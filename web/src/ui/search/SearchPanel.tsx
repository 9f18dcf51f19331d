// Finding a message by its words, in every room of the person's or in the open one: each hit with
// its room, author and time and the words that matched marked in its excerpt (text, never HTML);
// a click opens the room. "Load more" asks for the next page.

import { useState } from "react";

import { excerptParts, queryProblem, type SearchHit } from "../../core/messageSearch";
import { dmPartner } from "../../core/protocol";
import { localTime } from "../../core/rows";
import { roomTitle } from "../../core/stores/rooms";
import { Modal } from "../dialogs/Modal";
import { useChatClient, useMe, useStore } from "../state";

interface Results {
  query: string;
  room: string | null;
  hits: SearchHit[];
  next: string | null;
}

export function SearchPanel({ roomId, onClose }: { roomId: string | null; onClose: () => void }) {
  const client = useChatClient();
  const [text, setText] = useState("");
  const [inRoom, setInRoom] = useState(false);
  const [results, setResults] = useState<Results | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const ask = async (query: string, room: string | null, before: string | null): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      const page = await client.searchMessages(query, room, before);
      setResults((held) => ({
        query,
        room,
        hits: before === null || held === null ? page.hits : [...held.hits, ...page.hits],
        next: page.next,
      }));
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
    } finally {
      setBusy(false);
    }
  };

  const submit = (): void => {
    const problem = queryProblem(text);
    if (problem !== null) {
      setError(problem);
      return;
    }
    void ask(text.trim(), inRoom ? roomId : null, null);
  };

  return (
    <Modal title="Search messages" onClose={onClose}>
      <div className="modal-body search-panel">
      <form
        className="search-form"
        role="search"
        onSubmit={(event) => {
          event.preventDefault();
          submit();
        }}
      >
        <input
          autoFocus
          type="search"
          value={text}
          aria-label="Words to find"
          placeholder='Words, "a phrase", -without'
          data-testid="search-input"
          onChange={(event) => setText(event.target.value)}
        />
        <button type="submit" className="primary" disabled={busy}>
          Search
        </button>
      </form>
      {roomId !== null && (
        <label className="search-scope">
          <input type="checkbox" checked={inRoom} onChange={(event) => setInRoom(event.target.checked)} />
          <span>In this room only</span>
        </label>
      )}
      {error !== null && (
        <p className="form-error" role="alert" data-testid="search-error">
          {error}
        </p>
      )}
      {results !== null && (
        <div className="search-results" data-testid="search-results">
          {results.hits.length === 0 ? (
            <p className="muted">Nothing found for “{results.query}”.</p>
          ) : (
            <ul>
              {results.hits.map((hit) => (
                <li key={`${hit.message.room}/${hit.message.id}`}>
                  <Hit
                    hit={hit}
                    onOpen={() => {
                      const room = hit.message.room;
                      client.openRoom(room, room.startsWith("dm:") ? "dm" : (client.stores.rooms.get()[room]?.kind ?? "public"));
                      onClose();
                    }}
                  />
                </li>
              ))}
            </ul>
          )}
          {results.next !== null && (
            <button
              type="button"
              className="ghost wide"
              disabled={busy}
              onClick={() => void ask(results.query, results.room, results.next)}
            >
              {busy ? "Loading…" : "Load more"}
            </button>
          )}
        </div>
      )}
      </div>
    </Modal>
  );
}

function Hit({ hit, onOpen }: { hit: SearchHit; onOpen: () => void }) {
  const me = useMe().id;
  const { room: roomId, user, ts } = hit.message;
  const room = useStore(useChatClient().stores.rooms, (s) => s[roomId]);
  const people = useStore(useChatClient().stores.people, (s) => s);
  const partner = dmPartner(roomId, me);
  const title =
    room !== undefined ? roomTitle(room, people, me) : partner !== null ? (people[partner] ?? partner) : roomId;
  const where = partner !== null ? title : `#${title}`;
  const at = new Date(ts);
  return (
    <button type="button" className="search-hit" data-testid="search-hit" onClick={onOpen}>
      <span className="search-hit-head">
        <bdi className="search-hit-room">{where}</bdi>
        <bdi className="search-hit-author">{user.name}</bdi>
        <time dateTime={ts} title={localTime().fullText(at)}>
          {localTime().dayKey(at)} {localTime().clock(at)}
        </time>
      </span>
      <span className="search-hit-text" dir="auto">
        {excerptParts(hit.excerpt.text, hit.excerpt.matches).map((part, index) =>
          part.match ? <mark key={index}>{part.text}</mark> : <span key={index}>{part.text}</span>,
        )}
      </span>
    </button>
  );
}
