// Desktop notifications through the browser's Notification API: whether the person allowed
// them, asking (only ever from a click: browsers ignore or penalise a prompt on load), and
// showing one for an alert, which brings the page forward on the room when clicked.

import type { Alert } from "../core/alerts";

export type NotificationState = "unsupported" | "default" | "granted" | "denied";

export interface Notifications {
  state(): NotificationState;
  /** Asks the browser for permission; call only from a click. */
  request(): Promise<NotificationState>;
}

function supported(): boolean {
  return typeof window !== "undefined" && "Notification" in window;
}

export const browserNotifications: Notifications = {
  state: () => (supported() ? Notification.permission : "unsupported"),
  request: async () => (supported() ? Notification.requestPermission() : "unsupported"),
};

/** Shows `alert` if the person allowed notifications; a click opens its room. */
export function showAlert(alert: Alert, openRoom: (room: string) => void): void {
  if (!supported() || Notification.permission !== "granted") return;
  try {
    const notification = new Notification(alert.title, { body: alert.body, tag: alert.tag });
    notification.onclick = () => {
      window.focus();
      openRoom(alert.room);
      notification.close();
    };
  } catch {
    // Some mobile browsers allow notifications only from a service worker: the badges remain.
  }
}
