import { act, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import { FakeClock, FakeGateway } from "../../test/fakes";
import { ANN, BOB } from "../../test/harness";
import { chatWith, renderInChat } from "../../test/render";
import { PeoplePanel } from "./PeoplePanel";

const ABE = { id: "u-abe", name: "abe" };

async function teamChat() {
  const clock = new FakeClock();
  const gateway = new FakeGateway(clock, ANN);
  gateway.addToRoom("team", "private", "owner");
  gateway.roomPeople.set("team", [
    { user: ABE, role: "member" },
    { user: BOB, role: "moderator" },
  ]);
  const chat = await chatWith(["team"], { clock, gateway });
  renderInChat(chat, <PeoplePanel roomId="team" />);
  await chat.settle();
  return chat;
}

const shown = () =>
  screen.getAllByTestId("person").map((p) => [p.dataset.user, p.dataset.online, within(p).queryByTestId("role")?.textContent ?? ""]);

describe("PeoplePanel", () => {
  it("lists the members with their roles, who is online first, oneself at the top, and starts a DM", async () => {
    const chat = await teamChat();
    act(() => chat.recorder.latest.push({ type: "presence", room: "team", user: BOB, state: "online" }));
    expect(screen.getByRole("complementary", { name: "Members" })).toBeInTheDocument();
    expect(screen.getByRole("heading", { name: "Members 3" })).toBeInTheDocument();
    expect(shown()).toEqual([
      ["ann", "true", "owner"],
      ["bob", "true", "moderator"],
      ["abe", "false", ""],
    ]);
    expect(screen.getByText("2 online")).toBeInTheDocument();
    expect(within(screen.getAllByTestId("person")[0]!).queryByRole("button")).toBeNull();

    await userEvent.setup().click(screen.getByRole("button", { name: "Message bob" }));
    await chat.settle();
    expect(chat.client.stores.navigation.get().activeRoom).toBe("dm:u-ann:u-bob");
    expect(chat.recorder.latest.last("join")).toMatchObject({ room: "dm:u-ann:u-bob" });
  });

  it("keeps a member who went offline, with the dot of someone away", async () => {
    const chat = await teamChat();
    act(() => chat.recorder.latest.push({ type: "presence", room: "team", user: BOB, state: "online" }));
    act(() => chat.recorder.latest.push({ type: "presence", room: "team", user: BOB, state: "offline" }));
    expect(shown().map(([name, online]) => [name, online])).toEqual([
      ["ann", "true"],
      ["bob", "false"], // moderators before members
      ["abe", "false"],
    ]);
  });

  it("shows someone online in a public room who is not among its members", async () => {
    const chat = await chatWith(["lobby"]);
    renderInChat(chat, <PeoplePanel roomId="lobby" />);
    await chat.settle();
    act(() => chat.recorder.latest.push({ type: "presence", room: "lobby", user: ABE, state: "online" }));
    expect(shown().map(([name]) => name)).toEqual(["ann", "abe"]);
  });
});
