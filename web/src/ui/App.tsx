// The top: restores a session from the refresh cookie, or asks to sign in.

import { useEffect, useState } from "react";

import { browserNotifications } from "../app/notifications";
import { startSession, auth, type SignedIn } from "../app/session";
import type { AccessGrant } from "../core/auth";
import { AuthScreen } from "./auth/AuthScreen";
import { ChatScreen } from "./ChatScreen";
import { ChatProvider } from "./state";

type Phase =
  | { kind: "restoring" }
  | { kind: "signed-out"; message: string | null }
  | { kind: "signed-in"; session: SignedIn };

export function App() {
  const [phase, setPhase] = useState<Phase>({ kind: "restoring" });

  const signIn = (grant: AccessGrant): void => {
    const session = startSession(grant, (message) => setPhase({ kind: "signed-out", message }));
    setPhase({ kind: "signed-in", session });
  };

  useEffect(() => {
    let cancelled = false;
    auth.refresh().then(
      (grant) => {
        if (!cancelled) signIn(grant);
      },
      () => {
        if (!cancelled) setPhase({ kind: "signed-out", message: null });
      },
    );
    return () => {
      cancelled = true;
    };
  }, []);

  useEffect(() => {
    if (phase.kind !== "signed-in") return undefined;
    const session = phase.session;
    return () => session.close();
  }, [phase]);

  switch (phase.kind) {
    case "restoring":
      return (
        <div className="splash" aria-busy="true">
          <div className="brand-mark" aria-hidden="true" />
          <p>Loading…</p>
        </div>
      );
    case "signed-out":
      return <AuthScreen auth={auth} notice={phase.message} onSignedIn={signIn} />;
    case "signed-in":
      return (
        <ChatProvider client={phase.session.client}>
          <ChatScreen
            notifications={browserNotifications}
            onLogout={() => {
              void phase.session.logout().then(() => setPhase({ kind: "signed-out", message: null }));
            }}
          />
        </ChatProvider>
      );
  }
}
