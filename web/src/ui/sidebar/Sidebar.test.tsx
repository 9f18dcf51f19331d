import { act, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";

import { CloseCode } from "../../core/protocol";
import { SEARCH_PAUSE_MS } from "../../core/roomSearch";
import { BOB, DIRECTORY_PAGE } from "../../test/harness";
import { chatWith, renderInChat, type RenderedChat } from "../../test/render";
import { settle } from "../../test/fakes";
import { Sidebar } from "./Sidebar";

// Counts the renders of private rooms' sidebar rows: each draws one lock icon.
const renders = vi.hoisted(() => ({ locks: 0 }));
vi.mock("../common/icons", async (importOriginal) => {
  const original = await importOriginal<typeof import("../common/icons")>();
  return {
    ...original,
    LockIcon: () => {
      renders.locks++;
      return original.LockIcon();
    },
  };
});

function renderSidebar(chat: RenderedChat) {
  const handlers = { onNewRoom: vi.fn(), onNewDm: vi.fn(), onLogout: vi.fn() };
  renderInChat(chat, <Sidebar onOpen={(room) => chat.client.openRoom(room.id, room.kind)} {...handlers} />);
  return { ...handlers, user: userEvent.setup() };
}

const link = (room: string): HTMLElement => {
  const found = document.querySelector<HTMLElement>(`[data-testid=room-link][data-room='${room}']`);
  if (found === null) throw new Error(`no link to ${room}`);
  return found;
};

describe("Sidebar", () => {
  it("shows how many messages wait in a room not in view, until it is opened", async () => {
    const chat = await chatWith(["lobby", "random"]);
    const { user } = renderSidebar(chat);
    chat.gateway.post("lobby", "one", BOB);
    chat.gateway.post("lobby", "two", BOB);
    await chat.settle();
    expect(within(link("lobby")).getByTestId("unread-badge")).toHaveTextContent("2");
    expect(within(link("lobby")).getByLabelText("2 unread")).toBeInTheDocument();
    expect(within(link("random")).queryByTestId("unread-badge")).toBeNull();

    await user.click(link("lobby"));
    expect(link("lobby")).toHaveAttribute("aria-current", "page");
    expect(within(link("lobby")).queryByTestId("unread-badge")).toBeNull();
  });

  it("marks a room where someone named the person, and clears its badge when another device reads it", async () => {
    const chat = await chatWith(["lobby", "random"]);
    renderSidebar(chat);
    chat.gateway.post("lobby", "lunch?", BOB);
    chat.gateway.post("lobby", "@ann are you coming?", BOB);
    await chat.settle();
    expect(within(link("lobby")).getByLabelText("2 unread, 1 mentioning you")).toHaveTextContent("@ 2");
    await act(async () => {
      chat.gateway.markRead("lobby", 2); // read on the phone
      await settle();
    });
    expect(within(link("lobby")).queryByTestId("unread-badge")).toBeNull();
  });

  it("lists public rooms to join, with a search once there are many", async () => {
    const chat = await chatWith([]);
    for (let n = 1; n <= 10; n++) {
      const id = `room-${String(n).padStart(2, "0")}`;
      chat.serverRooms.push({ id, name: id, kind: "public", read_only: false, last_seq: 0 });
    }
    await act(() => chat.client.refreshDirectory());
    const { user } = renderSidebar(chat);
    expect(screen.getByText("No rooms yet. Create one or join one below.")).toBeInTheDocument();
    expect(screen.getAllByTestId("browse-room")).toHaveLength(8);
    expect(screen.getByText("2 more; type to narrow down.")).toBeInTheDocument();

    await user.type(screen.getByTestId("find-room"), "room-10");
    expect(screen.getAllByTestId("browse-room").map((b) => b.dataset.room)).toEqual(["room-10"]);
    await user.click(screen.getByTestId("browse-room"));
    await chat.settle();
    expect(link("room-10")).toHaveAttribute("aria-current", "page");
    expect(chat.recorder.latest.last("join")).toMatchObject({ room: "room-10" });
  });

  it("finds a public room beyond the directory's first page by asking the gateway", async () => {
    const chat = await chatWith([]);
    const count = DIRECTORY_PAGE + 10;
    for (let n = 0; n < count; n++) {
      const id = `room-${String(n).padStart(2, "0")}`;
      const last_active_at = new Date(Date.UTC(2025, 2, 14) - n * 60_000).toISOString();
      chat.serverRooms.push({ id, name: id, kind: "public", read_only: false, last_seq: 0, member: false, last_active_at });
    }
    await act(() => chat.client.refreshDirectory());
    const { user } = renderSidebar(chat);
    const browsed = (): (string | undefined)[] => screen.queryAllByTestId("browse-room").map((b) => b.dataset.room);
    // The liveliest few, and word that there are more than the gateway listed.
    expect(browsed()).toEqual(["room-00", "room-01", "room-02", "room-03", "room-04", "room-05", "room-06", "room-07"]);
    expect(screen.getByText(`${DIRECTORY_PAGE}+`)).toBeInTheDocument();
    expect(screen.getByTestId("find-room-hint")).toHaveTextContent("More rooms: type a name to find one.");

    const last = `room-${count - 1}`;
    await user.type(screen.getByTestId("find-room"), last);
    expect(browsed()).toEqual([]);
    expect(screen.getByTestId("find-room-hint")).toHaveTextContent("Looking…");
    await act(() => chat.clock.advance(SEARCH_PAUSE_MS));
    expect(chat.searches).toEqual([last]);
    expect(browsed()).toEqual([last]);
    expect(screen.queryByTestId("find-room-hint")).toBeNull();

    await user.click(screen.getByTestId("browse-room"));
    await chat.settle();
    expect(link(last)).toHaveAttribute("aria-current", "page");
    expect(chat.recorder.latest.last("join")).toMatchObject({ room: last });
    expect(screen.getByTestId("find-room")).toHaveValue("");
  });

  it("renders again only the row of the room a message went to, of hundreds", async () => {
    const chat = await chatWith([]);
    for (let n = 0; n < 300; n++) {
      const id = `team-${String(n).padStart(3, "0")}`;
      chat.gateway.addToRoom(id, "private");
    }
    await chat.settle();
    renderSidebar(chat);
    expect(screen.getAllByTestId("room-link")).toHaveLength(300);
    const before = renders.locks;

    chat.gateway.post("team-123", "news", BOB);
    await chat.settle();
    expect(within(link("team-123")).getByTestId("unread-badge")).toHaveTextContent("1");
    expect(renders.locks - before).toBe(1);
  });

  it("shows a lost connection and tries again at once when asked", async () => {
    const chat = await chatWith(["lobby"]);
    const { user } = renderSidebar(chat);
    const status = screen.getByTestId("connection-status");
    expect(status).toHaveAttribute("data-state", "online");
    act(() => chat.recorder.latest.drop(CloseCode.abnormal));
    expect(status).toHaveAttribute("data-state", "reconnecting");
    const sockets = chat.recorder.sockets.length;
    await user.click(within(status).getByRole("button", { name: "Retry now" }));
    await chat.settle();
    expect(chat.recorder.sockets.length).toBe(sockets + 1);
    expect(status).toHaveAttribute("data-state", "online");
  });

  it("says who is signed in and signs out", async () => {
    const chat = await chatWith([]);
    const { user, onLogout, onNewRoom, onNewDm } = renderSidebar(chat);
    expect(screen.getByTestId("me")).toHaveTextContent("ann");
    await user.click(screen.getByRole("button", { name: "Create a room" }));
    await user.click(screen.getByRole("button", { name: "Start a direct message" }));
    await user.click(screen.getByTestId("logout"));
    expect([onNewRoom, onNewDm, onLogout].map((f) => f.mock.calls.length)).toEqual([1, 1, 1]);
  });
});
