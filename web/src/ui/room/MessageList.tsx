// The message area: a virtualized list (only the rows in view exist in the DOM, so a room with
// many thousands of messages scrolls as fast as one with ten), kept at the bottom while new
// messages come, anchored in place while older pages are added above.

import { useVirtualizer } from "@tanstack/react-virtual";
import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";

import type { ChatMessage } from "../../core/protocol";
import { buildRows, type Row } from "../../core/rows";
import {
  useChatClient,
  useMaxBodyChars,
  useMaySpeakInReadOnly,
  useMe,
  useNewSince,
  usePending,
  useRoom,
  useRoomMessages,
  useRoomTitle,
} from "../state";
import { MessageRow, type RowContext } from "./MessageRow";

// Within this many pixels of the end counts as "at the bottom": keep following new messages.
const STICK_PX = 48;
// Start fetching the previous page while this many rows are still above the view.
const PREFETCH_ROWS = 10;

function estimate(row: Row | undefined): number {
  if (row === undefined) return 40;
  switch (row.kind) {
    case "day":
      return 44;
    case "message":
    case "pending":
      return row.first ? 62 : 28;
    default:
      return 48;
  }
}

const IGNORE_REPLY = (): void => undefined;

/** Re-renders at midnight so "Today" and "Yesterday" stay true. */
function useToday(): Date {
  const [today, setToday] = useState(() => new Date());
  useEffect(() => {
    const next = new Date(today);
    next.setHours(24, 0, 1, 0);
    const timer = window.setTimeout(() => setToday(new Date()), next.getTime() - Date.now());
    return () => window.clearTimeout(timer);
  }, [today]);
  return today;
}

/** The messages of one room; renders again only when they, its pending sends or the room change. */
export const MessageList = memo(function MessageList({
  roomId,
  onReply = IGNORE_REPLY,
}: {
  roomId: string;
  /** The person chose to answer a message (the composer shows it quoted). */
  onReply?: (message: ChatMessage) => void;
}) {
  const client = useChatClient();
  const room = useRoom(roomId);
  const held = useRoomMessages(roomId);
  const pending = usePending(roomId);
  const me = useMe();
  const meId = me.id;
  const newSince = useNewSince();
  const loadingOlder = room?.loadingOlder ?? false;
  const onLoadOlder = useCallback(() => void client.loadOlder(roomId), [client, roomId]);
  const roomTitle = useRoomTitle(room) ?? roomId;
  const maxChars = useMaxBodyChars();
  const globalStaff = useMaySpeakInReadOnly();
  const roomStaff = room?.role === "owner" || room?.role === "moderator";
  const [flashed, setFlashed] = useState<string | null>(null);
  const context: RowContext = {
    roomKind: room?.kind ?? "public",
    roomTitle,
    me,
    moderates: roomStaff,
    mayAct: room?.kept === true && (!room.readOnly || roomStaff || globalStaff),
    maxChars,
    onRetry: (id) => client.retry(roomId, id),
    onDiscard: (id) => client.discard(roomId, id),
    onReply,
    onReact: (id, emoji) => client.react(roomId, id, emoji),
    onEdit: (id, body) => client.edit(roomId, id, body),
    onDelete: (id) => client.deleteMessage(roomId, id),
    onJump: (id) => {
      const index = rows.findIndex((row) => row.kind === "message" && row.message.id === id);
      if (index < 0) return;
      atBottom.current = false;
      virtualizer.scrollToIndex(index, { align: "center" });
      setFlashed(id);
    },
  };
  useEffect(() => {
    if (flashed === null) return;
    const timer = window.setTimeout(() => setFlashed(null), 1600);
    return () => window.clearTimeout(timer);
  }, [flashed]);
  const scrollRef = useRef<HTMLDivElement>(null);
  const today = useToday();
  const rows = useMemo(
    () => buildRows(held, pending, meId, { now: today, loadingOlder, newSince }),
    [held, pending, meId, today, loadingOlder, newSince],
  );
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: (index) => estimate(rows[index]),
    getItemKey: (index) => rows[index]?.key ?? index,
    overscan: 12,
  });

  const atBottom = useRef(true);
  const [showJump, setShowJump] = useState(false);
  const previous = useRef<{ firstKey: string | undefined; lastKey: string | undefined; total: number }>({
    firstKey: undefined,
    lastKey: undefined,
    total: 0,
  });

  const firstMessageKey = rows.find((r) => r.kind === "message" || r.kind === "pending")?.key;
  const lastKey = rows[rows.length - 1]?.key;

  // After every change of rows: keep the view where the reader is.
  useLayoutEffect(() => {
    const element = scrollRef.current;
    if (element === null) return;
    const before = previous.current;
    const total = virtualizer.getTotalSize();
    if (atBottom.current) {
      if (rows.length > 0) virtualizer.scrollToIndex(rows.length - 1, { align: "end" });
    } else if (before.firstKey !== undefined && firstMessageKey !== before.firstKey) {
      // Older messages went in above: move down by what they added, so nothing jumps.
      element.scrollTop += total - before.total;
    } else if (before.lastKey !== undefined && lastKey !== before.lastKey) {
      setShowJump(true);
    }
    previous.current = { firstKey: firstMessageKey, lastKey, total };
  }, [rows, firstMessageKey, lastKey, virtualizer]);

  // The view gets shorter when something appears under it (files attached to the message being
  // written, a reply's quote, a taller box): a reader at the newest messages stays there.
  useEffect(() => {
    const element = scrollRef.current;
    if (element === null || typeof ResizeObserver === "undefined") return;
    let height = element.clientHeight;
    const observer = new ResizeObserver(() => {
      if (element.clientHeight === height) return;
      height = element.clientHeight;
      if (atBottom.current) element.scrollTop = element.scrollHeight;
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  const items = virtualizer.getVirtualItems();
  const firstVisible = items[0]?.index ?? 0;
  useEffect(() => {
    const element = scrollRef.current;
    if (element === null || firstVisible >= PREFETCH_ROWS) return;
    if (!held.hasMoreBefore || loadingOlder) return;
    // At the bottom of a full view the first rows only seem visible until the scroll lands.
    const fills = element.scrollHeight > element.clientHeight;
    if (!atBottom.current || !fills) onLoadOlder();
  }, [firstVisible, held.hasMoreBefore, loadingOlder, onLoadOlder]);

  const onScroll = (): void => {
    const element = scrollRef.current;
    if (element === null) return;
    const bottom = element.scrollHeight - element.scrollTop - element.clientHeight < STICK_PX;
    atBottom.current = bottom;
    if (bottom) setShowJump(false);
    // The newest messages on screen are read (the client tells the server, at most twice a second).
    client.viewing(roomId, bottom);
  };

  const jumpToEnd = (): void => {
    atBottom.current = true;
    setShowJump(false);
    client.viewing(roomId, true);
    virtualizer.scrollToIndex(rows.length - 1, { align: "end" });
  };

  return (
    <div className="messages-wrap">
      <div
        className="messages"
        ref={scrollRef}
        onScroll={onScroll}
        data-testid="messages"
        role="log"
        aria-label={`Messages in ${roomTitle}`}
      >
        {/* Sizes and offsets are set through the CSSOM, which the Content-Security-Policy allows. */}
        <div className="messages-inner" style={{ height: virtualizer.getTotalSize() }}>
          <div className="messages-window" style={{ transform: `translateY(${items[0]?.start ?? 0}px)` }}>
            {items.map((item) => {
              const row = rows[item.index];
              if (row === undefined) return null;
              return (
                <div
                  key={item.key}
                  data-index={item.index}
                  ref={virtualizer.measureElement}
                  className={row.kind === "message" && row.message.id === flashed ? "flash" : undefined}
                >
                  <MessageRow row={row} context={context} />
                </div>
              );
            })}
          </div>
        </div>
      </div>
      {showJump && (
        <button type="button" className="jump" onClick={jumpToEnd}>
          New messages below ↓
        </button>
      )}
    </div>
  );
});
