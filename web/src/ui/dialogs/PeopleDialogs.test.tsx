import { act, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import { SEARCH_PAUSE_MS } from "../../core/roomSearch";
import { chatWith, renderInChat } from "../../test/render";
import { StartDmDialog } from "./PeopleDialogs";

describe("StartDmDialog", () => {
  it("finds anyone by the start of their name, not only people met, and starts a DM", async () => {
    const chat = await chatWith([]);
    chat.gateway.people.push({ id: "u-cara", name: "cara" }, { id: "u-carl", name: "carl" });
    let closed = false;
    renderInChat(chat, <StartDmDialog onClose={() => (closed = true)} />);
    const user = userEvent.setup({ advanceTimers: (ms) => void chat.clock.advance(ms) });
    await user.type(screen.getByRole("textbox", { name: "Find a person" }), "car");
    expect(screen.getByText("Looking…")).toBeInTheDocument();
    await act(() => chat.clock.advance(SEARCH_PAUSE_MS));
    expect(chat.peopleAsked).toEqual(["car"]);
    expect(screen.getAllByRole("listitem").map((li) => li.textContent)).toEqual(["Ccara", "Ccarl"]);
    await user.click(screen.getByRole("button", { name: /carl/ }));
    await chat.settle();
    expect(closed).toBe(true);
    expect(chat.client.stores.navigation.get().activeRoom).toBe("dm:u-ann:u-carl");
  });
});
