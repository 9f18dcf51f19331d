import { act, cleanup, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import { dmRoomId } from "../../core/protocol";
import { FakeClock, FakeGateway } from "../../test/fakes";
import { ANN, BOB } from "../../test/harness";
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

describe("RoomHeader's topic", () => {
  async function headerOf(role: string, options: { roles?: string[]; kind?: "public" | "private" } = {}) {
    const clock = new FakeClock();
    const gateway = new FakeGateway(clock, ANN);
    if (options.roles !== undefined) gateway.roles = options.roles;
    gateway.addToRoom("team", options.kind ?? "public", role, "Launch plans");
    const chat = await chatWith(["team"], { clock, gateway });
    renderInChat(chat, <OpenRoomHeader />);
    return chat;
  }

  it("offers Edit topic to the room's owner and moderators only", async () => {
    for (const [role, offered] of [
      ["owner", true],
      ["moderator", true],
      ["member", false],
    ] as const) {
      const chat = await headerOf(role);
      expect(screen.getByTestId("room-topic")).toHaveTextContent("Launch plans");
      expect(screen.queryAllByRole("button", { name: "Edit topic" }), role).toHaveLength(offered ? 1 : 0);
      chat.client.stop();
      cleanup();
    }
  });

  it("offers it to a global moderator or admin whatever their role in the room", async () => {
    for (const roles of [["member", "moderator"], ["admin"]]) {
      const chat = await headerOf("member", { roles });
      expect(screen.getByRole("button", { name: "Edit topic" })).toBeInTheDocument();
      chat.client.stop();
      cleanup();
    }
  });

  it("offers nothing in a DM, even to an admin", async () => {
    const clock = new FakeClock();
    const gateway = new FakeGateway(clock, ANN);
    gateway.roles = ["admin"];
    const chat = await chatWith([], { clock, gateway });
    chat.client.startDm(BOB);
    await chat.settle();
    renderInChat(chat, <OpenRoomHeader />);
    expect(chat.room(dmRoomId(ANN.id, BOB.id))).toMatchObject({ kind: "dm", joined: true });
    expect(screen.getByTestId("room-title")).toHaveTextContent("bob");
    expect(screen.queryByRole("button", { name: "Edit topic" })).toBeNull();
  });

  it("sends the topic the owner saves, shows it and closes the dialog", async () => {
    const chat = await headerOf("owner");
    const user = userEvent.setup();
    await user.click(screen.getByRole("button", { name: "Edit topic" }));
    const box = within(screen.getByRole("dialog", { name: "Room topic" })).getByRole("textbox", { name: "Topic" });
    await user.clear(box);
    await user.type(box, "Ship it on Friday");
    await user.click(screen.getByRole("button", { name: "Save" }));
    await chat.settle();
    expect(chat.gateway.patchesSeen).toEqual([{ room: "team", body: { topic: "Ship it on Friday" } }]);
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(screen.getByTestId("room-topic")).toHaveTextContent("Ship it on Friday");
  });

  it("shows the gateway's reason when it refuses, and keeps the topic", async () => {
    // A global moderator when the page connected, no longer one when saving.
    const chat = await headerOf("member", { roles: ["moderator"] });
    chat.gateway.roles = ["member"];
    const user = userEvent.setup();
    await user.click(screen.getByRole("button", { name: "Edit topic" }));
    await user.type(screen.getByRole("textbox", { name: "Topic" }), " and more");
    await user.click(screen.getByRole("button", { name: "Save" }));
    await chat.settle();
    expect(screen.getByRole("alert")).toHaveTextContent("only the room's owner or a moderator may do that");
    expect(screen.getByRole("dialog", { name: "Room topic" })).toBeInTheDocument();
    expect(screen.getByTestId("room-topic")).toHaveTextContent("Launch plans");
  });

  it("changes at once on another page that has the room open", async () => {
    const clock = new FakeClock();
    const gateway = new FakeGateway(clock, ANN);
    gateway.addToRoom("team", "public", "owner", "Launch plans");
    const editor = await chatWith(["team"], { clock, gateway });
    const reader = await chatWith(["team"], { clock, gateway });
    renderInChat(reader, <OpenRoomHeader />);
    await act(() => editor.client.setTopic("team", "Ship it on Friday"));
    expect(screen.getByTestId("room-topic")).toHaveTextContent("Ship it on Friday");
    // Cleared elsewhere: the topic line goes.
    act(() => gateway.topicSet("team", "", BOB));
    expect(screen.queryByTestId("room-topic")).toBeNull();
  });
});
