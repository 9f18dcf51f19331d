// The middle of the screen: the open room's header, what is wrong (offline, removed, a failed
// load), its messages, who types, and the box to write in; a welcome when no room is open.

import { useCallback, useMemo, useRef, useState, type DragEvent } from "react";

import type { ChatMessage, ReplyTo } from "../../core/protocol";
import { excerptOf } from "../../core/roomLog";
import type { RoomState } from "../../core/stores/rooms";
import {
  useChatClient,
  useConnection,
  useDrafts,
  useMaxBodyChars,
  useMaySpeakInReadOnly,
  useMe,
  useMembers,
  useNotice,
  useOnline,
  useRoomTitle,
} from "../state";
import { Composer } from "./Composer";
import { MessageList } from "./MessageList";
import { RoomHeader } from "./RoomHeader";
import { TypingLine } from "./TypingLine";

interface RoomPaneProps {
  room: RoomState | undefined;
  peopleOpen: boolean;
  onTogglePeople: () => void;
  onAddPeople: () => void;
  onShowRooms: () => void;
  onCreateRoom: () => void;
}

export function RoomPane({ room, onCreateRoom, ...header }: RoomPaneProps) {
  const title = useRoomTitle(room);
  return (
    <main className="room" aria-label={title ?? "No room open"}>
      <RoomHeader room={room} {...header} />
      <ConnectionBanner />
      <NoticeBanner />
      {room ? <OpenRoom key={room.id} room={room} /> : <Welcome onCreateRoom={onCreateRoom} />}
    </main>
  );
}

function ConnectionBanner() {
  const connection = useConnection();
  if (connection.phase === "online") return null;
  return (
    <div className="banner" role="status" data-testid="offline-banner">
      {connection.phase === "stopped"
        ? "Disconnected."
        : "Connection lost — reconnecting. Messages you send now go out as soon as it is back."}
    </div>
  );
}

function NoticeBanner() {
  const client = useChatClient();
  const notice = useNotice();
  if (!notice) return null;
  return (
    <div className="banner notice" role="alert">
      {notice}
      <button type="button" className="link small" onClick={() => client.dismissNotice()}>
        Dismiss
      </button>
    </div>
  );
}

/** Whether the person may post in `room`: a member, and in a read-only room its staff. */
function useMayPost(room: RoomState): boolean {
  const moderates = useMaySpeakInReadOnly();
  return room.kept && (!room.readOnly || moderates || room.role === "owner" || room.role === "moderator");
}

/** A drag that carries files (not text or a link dragged from the page). */
function carriesFiles(event: DragEvent): boolean {
  return [...event.dataTransfer.types].includes("Files");
}

function OpenRoom({ room }: { room: RoomState }) {
  const client = useChatClient();
  const title = useRoomTitle(room);
  const mayPost = useMayPost(room);
  const [replyTo, setReplyTo] = useState<ReplyTo | null>(null);
  const onReply = useCallback((message: ChatMessage) => {
    setReplyTo({ id: message.id, user: message.user, excerpt: excerptOf(message) });
  }, []);
  // Files dragged over the messages or the box: dropped, they are attached to the message being
  // written. Enter and leave fire for every child crossed, so the drag is counted.
  const [dragging, setDragging] = useState(false);
  const depth = useRef(0);
  const dropZone = mayPost
    ? {
        onDragEnter: (event: DragEvent) => {
          if (!carriesFiles(event)) return;
          event.preventDefault();
          depth.current += 1;
          setDragging(true);
        },
        onDragOver: (event: DragEvent) => {
          if (!carriesFiles(event)) return;
          event.preventDefault(); // without it the browser opens the file instead of dropping it here
          event.dataTransfer.dropEffect = "copy";
        },
        onDragLeave: (event: DragEvent) => {
          if (!carriesFiles(event)) return;
          depth.current = Math.max(0, depth.current - 1);
          if (depth.current === 0) setDragging(false);
        },
        onDrop: (event: DragEvent) => {
          if (!carriesFiles(event)) return;
          event.preventDefault();
          depth.current = 0;
          setDragging(false);
          client.attach(room.id, [...event.dataTransfer.files]);
        },
      }
    : {};
  return (
    <>
      {room.error && (
        <div className="banner error" role="alert">
          {room.error}
        </div>
      )}
      <div className={`room-body${dragging ? " dragging" : ""}`} data-testid="drop-zone" {...dropZone}>
        <MessageList key={room.id} roomId={room.id} onReply={onReply} />
        <TypingLine roomId={room.id} />
        <RoomComposer room={room} replyTo={replyTo} onReplyDone={() => setReplyTo(null)} />
        {dragging && (
          <div className="drop-overlay" aria-hidden="true">
            <span>Drop files to send them in {room.kind === "dm" ? title : `#${title}`}</span>
          </div>
        )}
      </div>
    </>
  );
}

/** The box to write in, with the room's members to complete `@names` from (who comes and goes renders this alone). */
function RoomComposer({
  room,
  replyTo,
  onReplyDone,
}: {
  room: RoomState;
  replyTo: ReplyTo | null;
  onReplyDone: () => void;
}) {
  const client = useChatClient();
  const title = useRoomTitle(room);
  const maxChars = useMaxBodyChars();
  const mayPost = useMayPost(room);
  const files = useDrafts(room.id);
  const me = useMe();
  const members = useMembers(room.id);
  const online = useOnline(room.id);
  // The member list as last fetched, and whoever is in the room now: someone who joined since
  // the list was fetched can be named before it is fetched again.
  const candidates = useMemo(() => {
    const listed = new Set(members.members.map((m) => m.id));
    const present = online.filter((p) => !listed.has(p.id)).map((p) => ({ ...p, role: "member", online: true }));
    return [...members.members, ...present];
  }, [members.members, online]);
  const loading = members.loading;
  // Fetched again at each `@` typed: members join and leave while the room is open.
  const wantMembers = useCallback(() => {
    if (!loading) void client.loadMembers(room.id);
  }, [client, room.id, loading]);
  return (
    <Composer
      roomTitle={room.kind === "dm" ? title : `#${title}`}
      disabled={!mayPost}
      disabledReason={room.kept ? "This room is read-only." : "You are not in this room."}
      maxChars={maxChars}
      onSend={(body) => {
        const sent = client.send(room.id, body, replyTo ?? undefined);
        if (sent) onReplyDone();
        return sent;
      }}
      onTyping={() => client.typing(room.id)}
      replyTo={replyTo}
      onCancelReply={onReplyDone}
      members={candidates}
      me={me.id}
      onWantMembers={wantMembers}
      files={files}
      onAttach={(chosen) => client.attach(room.id, chosen)}
      onRemoveFile={(key) => client.removeAttachment(room.id, key)}
      onRetryFile={(key) => client.retryAttachment(room.id, key)}
    />
  );
}

function Welcome({ onCreateRoom }: { onCreateRoom: () => void }) {
  const me = useMe();
  return (
    <div className="welcome">
      <div className="brand-mark big" aria-hidden="true" />
      <h2>Hello, {me.name}</h2>
      <p className="muted">Pick a room on the left, join a public one, or create your own.</p>
      <button type="button" className="primary" onClick={onCreateRoom}>
        Create a room
      </button>
    </div>
  );
}
