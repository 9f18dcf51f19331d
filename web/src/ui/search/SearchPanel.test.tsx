import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import { BOB } from "../../test/harness";
import { chatWith, renderInChat } from "../../test/render";
import { SearchPanel } from "./SearchPanel";

describe("SearchPanel", () => {
  it("lists hits with room, author and the matched word marked as text; a click opens the room", async () => {
    const chat = await chatWith(["lobby", "design"]);
    chat.gateway.post("lobby", "😀 <b>lunch</b> at noon", BOB);
    chat.gateway.post("design", "no match here", BOB);
    await chat.settle();
    let closed = 0;
    renderInChat(chat, <SearchPanel roomId="design" onClose={() => closed++} />);
    const user = userEvent.setup();
    await user.type(screen.getByTestId("search-input"), "lunch{Enter}");
    await chat.settle();
    const [hit] = screen.getAllByTestId("search-hit");
    expect(hit).toHaveTextContent("#lobby");
    expect(hit).toHaveTextContent("bob");
    expect(within(hit!).getByText("lunch").tagName).toBe("MARK");
    expect(hit!.querySelector("b")).toBeNull();
    expect(hit).toHaveTextContent("😀 <b>lunch</b> at noon");
    await user.click(hit!);
    expect(chat.client.stores.navigation.get().activeRoom).toBe("lobby");
    expect(closed).toBe(1);
  });

  it("pages with the cursor, searches one room when asked, and says what is wrong with a query", async () => {
    const chat = await chatWith(["lobby", "design"]);
    for (let i = 1; i <= 25; i++) chat.gateway.post("lobby", `standup ${i}`, BOB);
    chat.gateway.post("design", "standup design", BOB);
    await chat.settle();
    renderInChat(chat, <SearchPanel roomId="design" onClose={() => undefined} />);
    const user = userEvent.setup();
    await user.type(screen.getByTestId("search-input"), "   {Enter}");
    expect(screen.getByTestId("search-error")).toHaveTextContent("Type a word to search for.");
    await user.type(screen.getByTestId("search-input"), "standup{Enter}");
    await chat.settle();
    expect(screen.getAllByTestId("search-hit")).toHaveLength(20);
    await user.click(screen.getByRole("button", { name: "Load more" }));
    await chat.settle();
    expect(screen.getAllByTestId("search-hit")).toHaveLength(26);
    expect(screen.queryByRole("button", { name: "Load more" })).not.toBeInTheDocument();
    expect(chat.gateway.searchesSeen.map((s) => s.before === null)).toEqual([true, false]);
    await user.click(screen.getByRole("checkbox", { name: "In this room only" }));
    await user.click(screen.getByRole("button", { name: "Search" }));
    await chat.settle();
    expect(screen.getAllByTestId("search-hit")).toHaveLength(1);
    expect(chat.gateway.searchesSeen.at(-1)).toMatchObject({ room: "design" });
  });
});
