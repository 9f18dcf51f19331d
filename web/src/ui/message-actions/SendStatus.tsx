// What one can do with one's own message that is not sent yet: see how it is doing, and retry or
// discard it once it failed.

import type { PendingMessage } from "../../core/outbox";

export function sendStatusText(pending: PendingMessage): string {
  switch (pending.state) {
    case "failed":
      return pending.error ?? "Not sent";
    case "sending":
      return "Sending…";
    case "queued":
      return pending.error ?? "Waiting to send…";
  }
}

export function SendStatus({
  pending,
  onRetry,
  onDiscard,
}: {
  pending: PendingMessage;
  onRetry: (clientMsgId: string) => void;
  onDiscard: (clientMsgId: string) => void;
}) {
  const failed = pending.state === "failed";
  return (
    <div className="msg-status" role={failed ? "alert" : undefined}>
      <span>{sendStatusText(pending)}</span>
      {failed && (
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
  );
}
