// How the connection is doing, in a few words, with a way to skip the wait.

import { useEffect, useState } from "react";

import type { ConnectionState } from "../../core/connection";

function useNow(active: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return undefined;
    const timer = window.setInterval(() => setNow(Date.now()), 250);
    return () => window.clearInterval(timer);
  }, [active]);
  return now;
}

export function statusText(state: ConnectionState, now: number): string {
  switch (state.phase) {
    case "online":
      return "Connected";
    case "connecting":
      return state.attempt === 0 ? "Connecting…" : "Reconnecting…";
    case "reconnecting": {
      const seconds = Math.ceil((state.retryAt - now) / 1000);
      return seconds > 0 ? `Reconnecting in ${seconds} s…` : "Reconnecting…";
    }
    case "stopped":
      return "Disconnected";
  }
}

export function ConnectionStatus({
  state,
  session,
  onRetry,
}: {
  state: ConnectionState;
  session: string | null;
  onRetry: () => void;
}) {
  const now = useNow(state.phase === "reconnecting");
  // "connecting" after a lost connection is part of reconnecting for the person looking.
  const shown = state.phase === "connecting" && state.attempt > 0 ? "reconnecting" : state.phase;
  return (
    <div
      className={`connection connection-${shown}`}
      data-testid="connection-status"
      data-state={shown}
      data-session={session ?? undefined}
      title={session === null ? undefined : `Connection ${session}`}
      role="status"
    >
      <span className="connection-dot" aria-hidden="true" />
      <span className="connection-text">{statusText(state, now)}</span>
      {state.phase === "reconnecting" && (
        <button type="button" className="link small" onClick={onRetry}>
          Retry now
        </button>
      )}
    </div>
  );
}
