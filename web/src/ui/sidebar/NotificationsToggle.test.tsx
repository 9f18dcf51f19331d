import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";

import type { NotificationState } from "../../app/notifications";
import { NotificationsToggle } from "./NotificationsToggle";

function notifications(initial: NotificationState, answer: NotificationState = "granted") {
  let state = initial;
  return {
    state: () => state,
    request: vi.fn(async () => {
      state = answer;
      return state;
    }),
  };
}

describe("NotificationsToggle", () => {
  it("asks for permission only when clicked, and goes once the person decided", async () => {
    const browser = notifications("default");
    render(<NotificationsToggle notifications={browser} />);
    expect(browser.request).not.toHaveBeenCalled();
    await userEvent.setup().click(screen.getByRole("button", { name: "Enable notifications" }));
    expect(browser.request).toHaveBeenCalledOnce();
    expect(screen.queryByRole("button", { name: "Enable notifications" })).toBeNull();
  });

  it("is not offered when permission was given or refused, or the browser has none", () => {
    for (const state of ["granted", "denied", "unsupported"] as const) {
      const { unmount } = render(<NotificationsToggle notifications={notifications(state)} />);
      expect(screen.queryByRole("button")).toBeNull();
      unmount();
    }
  });
});
