import { act, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import { ProtocolError, type Attachment } from "../../core/protocol";
import { BOB } from "../../test/harness";
import { chatWith, renderInChat, type RenderedChat } from "../../test/render";
import { MessageList } from "./MessageList";

afterEach(() => {
  vi.restoreAllMocks();
});

/** Bob posts a message with `files` (their uploads stored) to the lobby. */
function postFiles(chat: RenderedChat, files: Omit<Attachment, "id">[], body = "") {
  const attachments = files.map((file) => {
    const ticket = chat.gateway.createUpload("lobby", { name: file.name, type: file.type, size: file.size });
    chat.gateway.uploads.get(ticket.id)!.stored = true;
    return { ...file, id: ticket.id };
  });
  return chat.gateway.post("lobby", body, BOB, undefined, undefined, attachments);
}

const photo = { name: "harbour.jpg", type: "image/jpeg", size: 2_400_000, image: true };
const report = { name: "report.pdf", type: "application/pdf", size: 123_456, image: false };

/** Anchors the page clicks to download, instead of jsdom following them. */
function downloads(): { href: string; download: string }[] {
  const seen: { href: string; download: string }[] = [];
  vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
    seen.push({ href: this.href, download: this.download });
  });
  return seen;
}

describe("a message's files in the timeline", () => {
  it("shows an image as a placeholder until its thumbnail exists, then the thumbnail, for everyone in the room", async () => {
    const chat = await chatWith(["lobby"]);
    renderInChat(chat, <MessageList roomId="lobby" />);
    const message = postFiles(chat, [photo]);
    await chat.settle();
    const placeholder = screen.getByTestId("image-placeholder");
    expect(placeholder).toHaveAccessibleName("harbour.jpg: being processed");
    expect(placeholder).toHaveAttribute("data-processed", "false");
    expect(screen.queryByRole("img", { name: "harbour.jpg" })).toBeNull();
    expect(chat.gateway.linksAsked).toEqual([]); // nothing to fetch before the thumbnail exists

    chat.gateway.processed("lobby", message.id, { [message.attachments![0]!.id]: { width: 1600, height: 900, thumbnail: true } });
    await chat.settle();
    const image = await screen.findByRole("img", { name: "harbour.jpg" });
    expect(image).toHaveAttribute("src", expect.stringContaining("/chat-attachments/thumbnails/"));
    // The box of its own aspect, scaled into the preview's bounds.
    expect(image).toHaveAttribute("width", "360");
    expect(image).toHaveAttribute("height", "203");
    expect(chat.gateway.linksAsked.map((l) => l.variant)).toEqual(["thumbnail"]);
  });

  it("waits in a box of the image's shape when its size is known before the thumbnail", async () => {
    const chat = await chatWith(["lobby"]);
    renderInChat(chat, <MessageList roomId="lobby" />);
    postFiles(chat, [{ ...photo, width: 300, height: 600 }]);
    await chat.settle();
    const placeholder = screen.getByTestId("image-placeholder");
    expect(placeholder.style.width).toBe("140px");
    expect(placeholder.style.aspectRatio).toBe("140 / 280");
  });

  it("opens the original in a viewer that Escape closes, giving focus back to the thumbnail", async () => {
    const chat = await chatWith(["lobby"]);
    renderInChat(chat, <MessageList roomId="lobby" />);
    const user = userEvent.setup();
    const message = postFiles(chat, [photo]);
    chat.gateway.processed("lobby", message.id, { [message.attachments![0]!.id]: { width: 64, height: 48, thumbnail: true } });
    await chat.settle();
    const open = await screen.findByRole("button", { name: "Open harbour.jpg" });
    open.focus();
    await user.keyboard("{Enter}");
    const viewer = await screen.findByRole("dialog", { name: "harbour.jpg" });
    const original = await within(viewer).findByTestId("viewer-image");
    expect(original).toHaveAttribute("src", expect.stringContaining("/chat-attachments/originals/"));
    expect(within(viewer).getByRole("button", { name: "Close" })).toHaveFocus();
    // Tab stays inside the viewer.
    await user.tab();
    expect(within(viewer).getByRole("button", { name: "Download harbour.jpg" })).toHaveFocus();
    await user.keyboard("{Escape}");
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(open).toHaveFocus();
    // The × closes it too.
    await user.click(open);
    await user.click(await screen.findByRole("button", { name: "Close" }));
    expect(screen.queryByRole("dialog")).toBeNull();
  });

  it("shows any other file as a chip with its name and size that downloads the original", async () => {
    const chat = await chatWith(["lobby"]);
    renderInChat(chat, <MessageList roomId="lobby" />);
    const user = userEvent.setup();
    const saved = downloads();
    postFiles(chat, [report], "the numbers");
    await chat.settle();
    const chip = screen.getByTestId("file-chip");
    expect(within(chip).getByTestId("file-name")).toHaveTextContent("report.pdf");
    expect(within(chip).getByTestId("file-size")).toHaveTextContent("121 KB");
    expect(screen.getByTestId("message-body")).toHaveTextContent("the numbers");
    await user.click(within(chip).getByRole("button", { name: "Download report.pdf" }));
    await act(async () => undefined);
    expect(saved).toHaveLength(1);
    expect(saved[0]!.href).toMatch(/^https:\/\/chat\.test\/chat-attachments\/originals\/up-\d+\?/);
    expect(saved[0]!.download).toBe("report.pdf");
    expect(document.querySelectorAll("a[download]")).toHaveLength(0); // the link was only for the click
  });

  it("never puts an SVG or HTML file into an <img>: they are files", async () => {
    const chat = await chatWith(["lobby"]);
    renderInChat(chat, <MessageList roomId="lobby" />);
    const svg = { name: "logo.svg", type: "image/svg+xml", size: 300, image: false };
    const page = { name: "page.html", type: "text/html", size: 900, image: false };
    const message = postFiles(chat, [svg, page]);
    // Even an event that claims a thumbnail for them changes nothing: only `image` files preview.
    chat.gateway.processed("lobby", message.id, Object.fromEntries(message.attachments!.map((a) => [a.id, { thumbnail: true }])));
    await chat.settle();
    expect(document.querySelectorAll("img")).toHaveLength(0);
    expect(screen.getAllByTestId("file-chip").map((c) => c.dataset.type)).toEqual(["image/svg+xml", "text/html"]);
    expect(chat.gateway.linksAsked).toEqual([]);
  });

  it("shows an image whose thumbnail is gone as a file", async () => {
    const chat = await chatWith(["lobby"]);
    renderInChat(chat, <MessageList roomId="lobby" />);
    const message = postFiles(chat, [photo]);
    const id = message.attachments![0]!.id;
    chat.gateway.processed("lobby", message.id, { [id]: { width: 10, height: 10, thumbnail: true } });
    chat.gateway.attachmentLink = () => {
      throw new ProtocolError("not_found", "no thumbnail");
    };
    await chat.settle();
    expect(await screen.findByTestId("file-chip")).toHaveTextContent("harbour.jpg");
    expect(screen.queryByRole("img", { name: "harbour.jpg" })).toBeNull();
  });

  it("shows no files of a deleted message", async () => {
    const chat = await chatWith(["lobby"]);
    renderInChat(chat, <MessageList roomId="lobby" />);
    const message = postFiles(chat, [photo, report], "look");
    await chat.settle();
    expect(screen.getByTestId("attachments")).toBeInTheDocument();
    chat.gateway.postEvent("lobby", { type: "delete", message_id: message.id, client_msg_id: "del" }, BOB);
    await chat.settle();
    expect(screen.getByTestId("message-body")).toHaveTextContent("Message deleted");
    expect(screen.queryByTestId("attachments")).toBeNull();
  });

  it("shows the files of messages from history", async () => {
    const chat = await chatWith([]);
    const ticket = chat.gateway.createUpload("archive", { name: "minutes.txt", type: "text/plain", size: 2048 });
    const old = chat.gateway.store("archive", "", BOB, "b1");
    delete old.body;
    old.attachments = [{ id: ticket.id, name: "minutes.txt", type: "text/plain", size: 2048, image: false }];
    chat.client.openRoom("archive");
    await chat.settle();
    renderInChat(chat, <MessageList roomId="archive" />);
    await chat.settle();
    expect(screen.getByTestId("file-chip")).toHaveTextContent("minutes.txt");
    expect(screen.getByTestId("file-chip")).toHaveTextContent("2 KB");
    expect(screen.queryByTestId("message-body")).toBeNull();
  });
});

describe("one's own message with files on its way", () => {
  it("shows its files' names and sizes while sending", async () => {
    const chat = await chatWith(["lobby"]);
    renderInChat(chat, <MessageList roomId="lobby" />);
    chat.client.attach("lobby", [{ name: "plan.pdf", type: "application/pdf", size: 5000 }]);
    await chat.settle();
    chat.gateway.answering = false;
    chat.client.send("lobby", "");
    await chat.settle();
    const pending = screen.getByTestId("message");
    expect(pending).toHaveAttribute("data-state", "sending");
    expect(within(pending).getByTestId("file-chip")).toHaveTextContent("plan.pdf");
    expect(within(pending).getByTestId("file-chip")).toHaveTextContent("4.9 KB");
    expect(within(pending).queryByTestId("message-body")).toBeNull();
    chat.gateway.answering = true;
    await chat.settle();
    expect(screen.getByTestId("message")).toHaveAttribute("data-state", "sent");
    expect(screen.getByTestId("file-chip")).toHaveTextContent("plan.pdf");
  });
});
