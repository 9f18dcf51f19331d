import { act, fireEvent, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import { chatWith, renderInChat, type RenderedChat } from "../../test/render";
import { useActiveRoomId, useRoom } from "../state";
import { RoomPane } from "./RoomPane";

const noop = (): void => undefined;

function OpenRoomPane() {
  const room = useRoom(useActiveRoomId());
  return (
    <RoomPane
      room={room}
      peopleOpen={false}
      onTogglePeople={noop}
      onAddPeople={noop}
      onShowRooms={noop}
      onCreateRoom={noop}
    />
  );
}

async function inLobby(): Promise<RenderedChat & { box: HTMLElement }> {
  const chat = await chatWith(["lobby"]);
  renderInChat(chat, <OpenRoomPane />);
  await chat.settle();
  return { ...chat, box: screen.getByRole("textbox", { name: "Message #lobby" }) };
}

const png = (name = "shot.png", bytes = 3000) => new File([new Uint8Array(bytes)], name, { type: "image/png" });
const text = (name = "notes.txt") => new File(["some notes"], name, { type: "text/plain" });
const chips = () => screen.queryAllByTestId("draft-file");

describe("attaching files to a message", () => {
  it("picks files with the paperclip, shows each uploading with its progress, then sends them with the text", async () => {
    const chat = await inLobby();
    chat.store.auto = false;
    const user = userEvent.setup();
    await user.type(chat.box, "two files");
    await user.upload(screen.getByTestId("file-input"), [png(), text()]);
    await chat.settle();
    expect(chips().map((c) => [c.dataset.state, c.textContent])).toEqual([
      ["uploading", expect.stringContaining("shot.png2.9 KB")],
      ["uploading", expect.stringContaining("notes.txt10 B")],
    ]);
    const send = screen.getByRole("button", { name: "Send" });
    expect(send).toBeDisabled();
    expect(send).toHaveAttribute("title", "Waiting for the files to upload");

    await act(async () => chat.store.transfers[0]!.progress(1500));
    const progress = within(chips()[0]!).getByTestId("upload-progress");
    expect(progress).toHaveAttribute("value", "1500");
    expect(progress).toHaveAttribute("max", "3000");
    expect(chips()[0]).toHaveTextContent("50%");
    // Enter does nothing yet, and keeps the text.
    await user.type(chat.box, "{Enter}");
    expect(chat.box).toHaveValue("two files");

    await act(async () => {
      for (const transfer of chat.store.transfers) transfer.finish();
    });
    await chat.settle();
    expect(chips().map((c) => c.dataset.state)).toEqual(["ready", "ready"]);
    await user.click(screen.getByRole("button", { name: "Send" }));
    await chat.settle();
    expect(chat.box).toHaveValue("");
    expect(chips()).toEqual([]);
    const sent = chat.gateway.sendsSeen.at(-1)!;
    expect(sent).toMatchObject({ body: "two files", attachments: [{ upload_id: "up-1" }, { upload_id: "up-2" }] });
    const message = screen.getByTestId("message");
    expect(message).toHaveAttribute("data-state", "sent");
    expect(within(message).getByTestId("image-placeholder")).toBeInTheDocument();
    expect(within(message).getByTestId("file-chip")).toHaveTextContent("notes.txt");
  });

  it("attaches a pasted image, and pastes text as text", async () => {
    const chat = await inLobby();
    fireEvent.paste(chat.box, { clipboardData: { files: [png("image.png")], types: ["Files"] } });
    await chat.settle();
    expect(chips().map((c) => c.dataset.state)).toEqual(["ready"]);
    expect(chips()[0]).toHaveTextContent("image.png");
    const textPaste = fireEvent.paste(chat.box, { clipboardData: { files: [], types: ["text/plain"] } });
    expect(textPaste).toBe(true); // not prevented: the browser pastes the text
    expect(chips()).toHaveLength(1);
    // A message of the image alone can go.
    await userEvent.setup().click(screen.getByRole("button", { name: "Send" }));
    await chat.settle();
    expect(chat.gateway.sendsSeen.at(-1)!.attachments).toEqual([{ upload_id: "up-1" }]);
  });

  it("attaches files dropped on the messages, saying where they go while they are dragged over", async () => {
    const chat = await inLobby();
    const zone = screen.getByTestId("drop-zone");
    const files = { files: [text("a.txt"), text("b.txt")], types: ["Files"], dropEffect: "none" };
    fireEvent.dragEnter(screen.getByTestId("messages"), { dataTransfer: files });
    expect(zone).toHaveClass("dragging");
    expect(screen.getByText("Drop files to send them in #lobby")).toBeInTheDocument();
    const dropped = fireEvent.drop(screen.getByTestId("messages"), { dataTransfer: files });
    expect(dropped).toBe(false); // the browser does not open the file instead
    await chat.settle();
    expect(zone).not.toHaveClass("dragging");
    expect(chips().map((c) => c.textContent)).toEqual([expect.stringContaining("a.txt"), expect.stringContaining("b.txt")]);
    // Text dragged from the page is no file.
    fireEvent.dragEnter(screen.getByTestId("messages"), { dataTransfer: { files: [], types: ["text/plain"] } });
    expect(zone).not.toHaveClass("dragging");
  });

  it("says a file is too large and keeps the typed text; removing the file lets the text go", async () => {
    const chat = await inLobby();
    chat.gateway.uploadMaxBytes = 1000;
    const user = userEvent.setup();
    await user.type(chat.box, "see attached");
    await user.upload(screen.getByTestId("file-input"), png("huge.png", 5000));
    await chat.settle();
    const chip = chips()[0]!;
    expect(chip).toHaveAttribute("data-state", "failed");
    expect(within(chip).getByRole("alert")).toHaveTextContent("Too large to send: 4.9 KB, and files may be at most 1000 B");
    expect(within(chip).queryByRole("button", { name: "Retry" })).toBeNull();
    expect(chat.box).toHaveValue("see attached");
    expect(screen.getByRole("button", { name: "Send" })).toBeDisabled();
    await user.click(within(chip).getByRole("button", { name: "Remove huge.png" }));
    expect(chips()).toEqual([]);
    expect(chat.box).toHaveValue("see attached");
    await user.click(screen.getByRole("button", { name: "Send" }));
    await chat.settle();
    expect(chat.gateway.sendsSeen.at(-1)).toMatchObject({ body: "see attached" });
    expect(chat.gateway.sendsSeen.at(-1)!.attachments).toBeUndefined();
  });

  it("says a network error, keeps the file and the text, and tries again on Retry", async () => {
    const chat = await inLobby();
    chat.store.auto = false;
    const user = userEvent.setup();
    await user.type(chat.box, "the notes");
    await user.upload(screen.getByTestId("file-input"), text());
    await chat.settle();
    await act(async () => chat.store.latest.fail("network"));
    const chip = chips()[0]!;
    expect(within(chip).getByRole("alert")).toHaveTextContent("Network error while uploading");
    expect(screen.getByRole("button", { name: "Send" })).toHaveAttribute("title", "A file could not be uploaded: retry or remove it");
    await user.click(within(chip).getByRole("button", { name: "Retry" }));
    await chat.settle();
    expect(chips()[0]).toHaveAttribute("data-state", "uploading");
    await act(async () => chat.store.latest.finish());
    await chat.settle();
    expect(chips()[0]).toHaveAttribute("data-state", "ready");
    expect(chat.box).toHaveValue("the notes");
  });

  it("says when uploads are rate limited", async () => {
    const chat = await inLobby();
    chat.gateway.failUploads = { code: "rate_limited", message: "too many", retryAfterMs: 30_000 };
    await userEvent.setup().upload(screen.getByTestId("file-input"), text());
    await chat.settle();
    expect(within(chips()[0]!).getByRole("alert")).toHaveTextContent("Too many uploads for now; try again in 30 s");
  });

  it("offers no attaching where the person may not post", async () => {
    const chat = await chatWith([]);
    chat.gateway.memberships.set("news", { kind: "public", role: "member", topic: "", readOnly: true });
    chat.client.openRoom("news");
    await chat.settle();
    chat.client.stores.rooms.update((s) => ({ ...s, news: { ...s.news!, readOnly: true } }));
    renderInChat(chat, <OpenRoomPane />);
    await chat.settle();
    expect(screen.getByRole("button", { name: "Attach files" })).toBeDisabled();
    fireEvent.dragEnter(screen.getByTestId("messages"), { dataTransfer: { files: [text()], types: ["Files"] } });
    expect(screen.getByTestId("drop-zone")).not.toHaveClass("dragging");
  });
});
