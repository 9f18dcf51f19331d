import { act, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import { FakeClock, FakeGateway } from "../../test/fakes";
import { ANN } from "../../test/harness";
import { chatWith, renderInChat } from "../../test/render";
import { useActiveRoomId, useRoom } from "../state";
import styles from "../../styles.css?raw";
import { RoomHeader } from "./RoomHeader";

function OpenRoomHeader() {
  const room = useRoom(useActiveRoomId());
  return <RoomHeader room={room} peopleOpen={false} onTogglePeople={() => undefined} onAddPeople={() => undefined} onShowRooms={() => undefined} />;
}

/** The selectors of the rules that hide something (`display: none`) on a phone's width. */
function hiddenOnPhones(): string[] {
  const css = styles;
  const start = css.indexOf("@media (max-width: 760px)");
  expect(start).toBeGreaterThan(0);
  let depth = 0;
  let end = start;
  for (let i = css.indexOf("{", start); i < css.length; i++) {
    if (css[i] === "{") depth++;
    if (css[i] === "}" && --depth === 0) {
      end = i;
      break;
    }
  }
  const block = css.slice(css.indexOf("{", start) + 1, end);
  return [...block.matchAll(/([^{}]+)\{([^}]*)\}/g)]
    .filter(([, , body]) => /display:\s*none/.test(body!))
    .flatMap(([, selectors]) => selectors!.split(",").map((s) => s.trim()));
}

describe("RoomHeader", () => {
  it("shows the topic and leaves the room with a button that stays on phones", async () => {
    const clock = new FakeClock();
    const gateway = new FakeGateway(clock, ANN);
    gateway.addToRoom("team", "private", "owner", "Launch plans");
    const chat = await chatWith(["team"], { clock, gateway });
    renderInChat(chat, <OpenRoomHeader />);
    expect(screen.getByTestId("room-topic")).toHaveTextContent("Launch plans");
    const leave = screen.getByRole("button", { name: "Leave #team" });
    for (const selector of hiddenOnPhones()) expect(leave.matches(selector), selector).toBe(false);
    expect(screen.getByRole("button", { name: "Members, 1 online" })).toBeInTheDocument();

    await userEvent.setup().click(leave);
    await act(chat.pump);
    expect(chat.gateway.memberships.has("team")).toBe(false);
    expect(chat.client.stores.rooms.get().team?.kept).toBe(false);
  });
});
