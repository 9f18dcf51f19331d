// The message area: a virtualized list (only the rows in view exist in the DOM, so a room with
// many thousands of messages scrolls as fast as one with ten), kept at the bottom while new
// messages come, anchored in place while older pages are added above.

import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";

import type { RoomView } from "../core/chat";
import { buildRows, localTime, type Row } from "../core/rows";
import { Avatar } from "./Avatar";

// Within this many pixels of the end counts as "at the bottom": keep following new messages.
const STICK_PX = 48;
// Start fetching the previous page while this many rows are still above the view.
const PREFETCH_ROWS = 10;

interface MessageListProps {
  room: RoomView;
  meId: string;
  onLoadOlder: () => void;
  onRetry: (clientMsgId: string) => void;
  onDiscard: (clientMsgId: string) => void;
}

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

export function MessageList({ room, meId, onLoadOlder, onRetry, onDiscard }: MessageListProps) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const today = useToday();
  const rows = useMemo(
    () => buildRows(room.timeline, room.pending, meId, { now: today, loadingOlder: room.loadingOlder }),
    [room.timeline, room.pending, meId, today, room.loadingOlder],
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

  const items = virtualizer.getVirtualItems();
  const firstVisible = items[0]?.index ?? 0;
  useEffect(() => {
    const element = scrollRef.current;
    if (element === null || firstVisible >= PREFETCH_ROWS) return;
    if (!room.timeline.hasMoreBefore || room.loadingOlder) return;
    // At the bottom of a full view the first rows only seem visible until the scroll lands.
    const fills = element.scrollHeight > element.clientHeight;
    if (!atBottom.current || !fills) onLoadOlder();
  }, [firstVisible, room.timeline.hasMoreBefore, room.loadingOlder, onLoadOlder]);

  const onScroll = (): void => {
    const element = scrollRef.current;
    if (element === null) return;
    const bottom = element.scrollHeight - element.scrollTop - element.clientHeight < STICK_PX;
    atBottom.current = bottom;
    if (bottom) setShowJump(false);
  };

  const jumpToEnd = (): void => {
    atBottom.current = true;
    setShowJump(false);
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
        aria-label={`Messages in ${room.title}`}
      >
        {/* Sizes and offsets are set through the CSSOM, which the Content-Security-Policy allows. */}
        <div className="messages-inner" style={{ height: virtualizer.getTotalSize() }}>
          <div className="messages-window" style={{ transform: `translateY(${items[0]?.start ?? 0}px)` }}>
            {items.map((item) => {
              const row = rows[item.index];
              if (row === undefined) return null;
              return (
                <div key={item.key} data-index={item.index} ref={virtualizer.measureElement}>
                  <RowView row={row} room={room} onRetry={onRetry} onDiscard={onDiscard} />
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
}

function RowView({
  row,
  room,
  onRetry,
  onDiscard,
}: {
  row: Row;
  room: RoomView;
  onRetry: (clientMsgId: string) => void;
  onDiscard: (clientMsgId: string) => void;
}) {
  switch (row.kind) {
    case "loader":
      return <div className="list-note">Loading earlier messages…</div>;
    case "start":
      return (
        <div className="room-start">
          <strong>{room.kind === "dm" ? room.title : `#${room.title}`}</strong>
          <span className="muted">
            {room.kind === "dm"
              ? `This is the beginning of your conversation with ${room.title}.`
              : "This is the very beginning of the room."}
          </span>
        </div>
      );
    case "day":
      return (
        <div className="day" role="separator" data-testid="day-separator">
          <span>{row.label}</span>
        </div>
      );
    case "message": {
      const { message } = row;
      return (
        <article
          className={`msg${row.own ? " own" : ""}${row.first ? " first" : ""}`}
          data-testid="message"
          data-seq={message.seq}
          data-own={row.own}
          data-state="sent"
        >
          {!row.own && (
            <div className="msg-gutter">
              {row.first ? (
                <Avatar id={message.user.id} name={message.user.name} />
              ) : (
                <time className="msg-time-hover" dateTime={message.ts}>
                  {row.time}
                </time>
              )}
            </div>
          )}
          <div className="msg-main">
            {row.first && (
              <header className="msg-head">
                <span className="msg-author">{row.own ? "You" : message.user.name}</span>
                <time dateTime={message.ts} title={localTime().fullText(new Date(message.ts))}>
                  {row.time}
                </time>
              </header>
            )}
            {/* Always a text node: never HTML, whatever the message says. */}
            <div className="msg-body" data-testid="message-body">
              {message.body}
            </div>
          </div>
        </article>
      );
    }
    case "pending": {
      const { pending } = row;
      const label =
        pending.state === "failed" ? (pending.error ?? "Not sent") : pending.state === "sending" ? "Sending…" : (pending.error ?? "Waiting to send…");
      return (
        <article
          className={`msg own pending${row.first ? " first" : ""}${pending.state === "failed" ? " failed" : ""}`}
          data-testid="message"
          data-own="true"
          data-state={pending.state}
        >
          <div className="msg-main">
            {row.first && (
              <header className="msg-head">
                <span className="msg-author">You</span>
                <time>{row.time}</time>
              </header>
            )}
            <div className="msg-body" data-testid="message-body">
              {pending.body}
            </div>
            <div className="msg-status" role={pending.state === "failed" ? "alert" : undefined}>
              <span>{label}</span>
              {pending.state === "failed" && (
                <>
                  <button type="button" className="link small" onClick={() => onRetry(pending.clientMsgId)}>
                    Retry
                  </button>
                  <button type="button" className="link small" onClick={() => onDiscard(pending.clientMsgId)}>
                    Discard
                  </button>
                </>
              )}
            </div>
          </div>
        </article>
      );
    }
  }
}
