import { act, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import { BOB } from "../../test/harness";
import { chatWith, renderInChat } from "../../test/render";
import { PeoplePanel } from "./PeoplePanel";

describe("PeoplePanel", () => {
  it("lists who is online, oneself first, and starts a DM with someone", async () => {
    const chat = await chatWith(["lobby"]);
    renderInChat(chat, <PeoplePanel roomId="lobby" />);
    act(() => {
      chat.recorder.latest.push({ type: "presence", room: "lobby", user: { id: "u-abe", name: "abe" }, state: "online" });
      chat.recorder.latest.push({ type: "presence", room: "lobby", user: BOB, state: "online" });
    });
    const people = screen.getAllByTestId("person");
    expect(people.map((p) => p.dataset.user)).toEqual(["ann", "abe", "bob"]);
    expect(people[0]).toHaveTextContent("ann (you)");
    expect(within(people[0]!).queryByRole("button")).toBeNull();
    expect(screen.getByRole("heading", { name: "Online 3" })).toBeInTheDocument();

    await userEvent.setup().click(within(people[2]!).getByRole("button", { name: "Message" }));
    await chat.settle();
    expect(chat.client.stores.navigation.get().activeRoom).toBe("dm:u-ann:u-bob");
    expect(chat.recorder.latest.last("join")).toMatchObject({ room: "dm:u-ann:u-bob" });
  });

  it("drops someone who went offline", async () => {
    const chat = await chatWith(["lobby"]);
    renderInChat(chat, <PeoplePanel roomId="lobby" />);
    act(() => chat.recorder.latest.push({ type: "presence", room: "lobby", user: BOB, state: "online" }));
    expect(screen.getAllByTestId("person")).toHaveLength(2);
    act(() => chat.recorder.latest.push({ type: "presence", room: "lobby", user: BOB, state: "offline" }));
    expect(screen.getAllByTestId("person").map((p) => p.dataset.user)).toEqual(["ann"]);
  });
});
