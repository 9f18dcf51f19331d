// "Enable notifications": the one place that asks the browser for permission, and only when the
// person clicks it (never on load). Hidden once they decided, or where there are none.

import { useState } from "react";

import type { Notifications } from "../../app/notifications";

export function NotificationsToggle({ notifications }: { notifications: Notifications }) {
  const [state, setState] = useState(() => notifications.state());
  if (state !== "default") return null;
  return (
    <button
      type="button"
      className="ghost small notify-toggle"
      title="Get a desktop notification for direct messages and mentions while this tab is in the background"
      onClick={() => {
        void notifications.request().then(setState, () => setState(notifications.state()));
      }}
    >
      Enable notifications
    </button>
  );
}
