import { describe, expect, it } from "vitest";

import { isWebAddress } from "./attachmentLinks";
import { CloseCode, ProtocolError } from "./protocol";
import { draftsIn } from "./stores/drafts";
import { announceFailure, retryIn, storeFailure, TransferError } from "./uploads";
import { settle } from "../test/fakes";
import { BOB, startChat } from "../test/harness";

const png = (size = 4096, name = "cat.png") => ({ name, type: "image/png", size });
const pdf = (size = 90_000) => ({ name: "report.pdf", type: "application/pdf", size });

async function inLobby() {
  const chat = startChat();
  chat.client.start();
  await chat.pump();
  chat.client.openRoom("lobby");
  await chat.pump();
  const drafts = () => draftsIn(chat.client.stores.drafts.get(), "lobby");
  return { ...chat, drafts };
}

describe("attaching files", () => {
  it("announces each file, puts its bytes with the ticket's headers and shows how far it got", async () => {
    const { client, store, gateway, drafts } = await inLobby();
    store.auto = false;
    client.attach("lobby", [png(4096), pdf()]);
    await settle();
    expect(drafts().map((d) => [d.name, d.state, d.sent])).toEqual([
      ["cat.png", "uploading", 0],
      ["report.pdf", "uploading", 0],
    ]);
    expect([...gateway.uploads.values()].map((u) => [u.room, u.name, u.type, u.size])).toEqual([
      ["lobby", "cat.png", "image/png", 4096],
      ["lobby", "report.pdf", "application/pdf", 90_000],
    ]);
    const [first] = store.transfers;
    expect(first!.ticket.method).toBe("PUT");
    expect(first!.ticket.headers).toEqual({ "Content-Type": "image/png" });
    first!.progress(1024);
    expect(drafts()[0]!.sent).toBe(1024);
    first!.finish();
    await settle();
    expect(drafts().map((d) => d.state)).toEqual(["ready", "uploading"]);
    expect(drafts()[0]).toMatchObject({ sent: 4096, uploadId: first!.ticket.id });
  });

  it("sends the message with its uploaded files, once, and empties the box", async () => {
    const { client, pump, gateway, drafts, room } = await inLobby();
    client.attach("lobby", [png(), pdf()]);
    await pump();
    expect(client.send("lobby", "the cat and the report")).toBe(true);
    expect(drafts()).toEqual([]);
    await pump();
    const sent = gateway.sendsSeen.at(-1)!;
    expect(sent.attachments).toEqual([{ upload_id: "up-1" }, { upload_id: "up-2" }]);
    expect(sent.body).toBe("the cat and the report");
    const message = room("lobby").timeline.messages.at(-1)!;
    expect(message.attachments?.map((a) => [a.name, a.image, a.size])).toEqual([
      ["cat.png", true, 4096],
      ["report.pdf", false, 90_000],
    ]);
    expect(room("lobby").pending).toEqual([]);
  });

  it("sends files alone without a body", async () => {
    const { client, pump, gateway, room } = await inLobby();
    client.attach("lobby", [pdf()]);
    await pump();
    expect(client.send("lobby", "  ")).toBe(true);
    await pump();
    const sent = gateway.sendsSeen.at(-1)!;
    expect("body" in sent).toBe(false);
    expect(room("lobby").timeline.messages.at(-1)!.body).toBeUndefined();
  });

  it("sends nothing while a file is uploading or one failed, and keeps the files", async () => {
    const { client, store, gateway, drafts, pump } = await inLobby();
    store.auto = false;
    client.attach("lobby", [png()]);
    await settle();
    expect(client.send("lobby", "wait for it")).toBe(false);
    store.latest.fail("network");
    await settle();
    expect(drafts()[0]).toMatchObject({ state: "failed", error: "Network error while uploading", retryable: true });
    expect(client.send("lobby", "wait for it")).toBe(false);
    expect(gateway.sendsSeen).toEqual([]);
    // Tried again: a new upload (the last link may have expired), and then it goes.
    client.retryAttachment("lobby", drafts()[0]!.key);
    await settle();
    expect(drafts()[0]).toMatchObject({ state: "uploading", sent: 0 });
    expect(drafts()[0]!.error).toBeUndefined();
    store.latest.finish();
    await settle();
    expect(client.send("lobby", "wait for it")).toBe(true);
    await pump();
    expect(gateway.sendsSeen.at(-1)!.attachments).toEqual([{ upload_id: "up-2" }]);
  });

  it("says a file is too large, keeps it for the person to remove, and tries nothing again", async () => {
    const { client, gateway, store, drafts } = await inLobby();
    gateway.uploadMaxBytes = 1000;
    client.attach("lobby", [pdf(5 * 1024 * 1024)]);
    await settle();
    expect(drafts()[0]).toMatchObject({ state: "failed", retryable: false });
    expect(drafts()[0]!.error).toBe("Too large to send: 5 MB, and files may be at most 1000 B");
    expect(store.transfers).toEqual([]);
    client.retryAttachment("lobby", drafts()[0]!.key);
    await settle();
    expect(drafts()[0]!.state).toBe("failed");
    client.removeAttachment("lobby", drafts()[0]!.key);
    expect(drafts()).toEqual([]);
  });

  it("says when uploading is rate limited and when it may be tried again", async () => {
    const { client, gateway, drafts } = await inLobby();
    gateway.failUploads = { code: "rate_limited", message: "too many uploads", retryAfterMs: 240_000 };
    client.attach("lobby", [png()]);
    await settle();
    expect(drafts()[0]).toMatchObject({ state: "failed", error: "Too many uploads for now; try again in 4 min", retryable: true });
  });

  it("stops the upload of a file taken out, and ignores what its transfer says afterwards", async () => {
    const { client, store, drafts } = await inLobby();
    store.auto = false;
    client.attach("lobby", [png(), pdf()]);
    await settle();
    client.removeAttachment("lobby", drafts()[0]!.key);
    expect(store.transfers[0]!.aborted).toBe(true);
    await settle();
    expect(drafts().map((d) => d.name)).toEqual(["report.pdf"]);
  });

  it("refuses an empty file and more than ten files at once, saying why", async () => {
    const { client, gateway, drafts } = await inLobby();
    client.attach("lobby", [{ name: "empty.txt", type: "text/plain", size: 0 }]);
    client.attach("lobby", Array.from({ length: 10 }, (_, i) => png(10, `p${i}.png`)));
    await settle();
    expect(drafts()[0]).toMatchObject({ state: "failed", error: "The file is empty", retryable: false });
    expect(drafts().filter((d) => d.state === "failed").map((d) => d.name)).toEqual(["empty.txt", "p9.png"]);
    expect(drafts().at(-1)!.error).toBe("Only 10 files go with one message");
    expect(gateway.uploads.size).toBe(9);
  });

  it("resends a message with files with the same client_msg_id: the gateway claims them once", async () => {
    const { client, pump, gateway, room, clock, recorder } = await inLobby();
    client.attach("lobby", [png()]);
    await pump();
    gateway.failSends = "unavailable";
    client.send("lobby", "photo");
    await pump();
    expect(room("lobby").pending[0]!.state).toBe("queued");
    gateway.failSends = null;
    // Stored this time, but the reply is lost with the connection: sent again after the join.
    gateway.mute = true;
    await clock.advance(1000);
    await pump();
    recorder.latest.drop(CloseCode.abnormal);
    gateway.mute = false;
    await clock.advance(1000);
    await pump();
    const sends = gateway.sendsSeen.filter((s) => s.type === "send");
    expect(sends.length).toBeGreaterThanOrEqual(2);
    expect(new Set(sends.map((s) => s.client_msg_id)).size).toBe(1);
    expect(sends.every((s) => JSON.stringify(s.attachments) === JSON.stringify([{ upload_id: "up-1" }]))).toBe(true);
    expect(room("lobby").pending).toEqual([]);
    expect(room("lobby").timeline.messages.filter((m) => m.attachments !== undefined)).toHaveLength(1);
  });

  it("shows the gateway's reason when it refuses a message's files", async () => {
    const { client, pump, gateway, room } = await inLobby();
    client.attach("lobby", [png()]);
    await pump();
    gateway.uploads.get("up-1")!.stored = false; // the bytes never reached the store
    client.send("lobby", "photo");
    await pump();
    expect(room("lobby").pending[0]).toMatchObject({ state: "failed", error: "not sent: upload up-1 is not uploaded yet" });
    expect(room("lobby").pending[0]!.body).toBe("photo");
  });
});

describe("the media step's attachment event", () => {
  it("gives an image its size and thumbnail for the sender and for everyone in the room", async () => {
    const { client, pump, gateway, room } = await inLobby();
    client.attach("lobby", [png()]);
    await pump();
    client.send("lobby", "");
    await pump();
    const sent = room("lobby").timeline.messages.at(-1)!;
    expect(sent.attachments![0]).toMatchObject({ image: true });
    expect(sent.attachments![0]!.thumbnail).toBeUndefined();
    gateway.processed("lobby", sent.id, { "up-1": { width: 800, height: 600, thumbnail: true } });
    await pump();
    expect(room("lobby").timeline.messages.at(-1)!.attachments![0]).toMatchObject({ width: 800, height: 600, thumbnail: true });
    expect(room("lobby").timeline.messages).toHaveLength(1);
    expect(room("lobby").unread).toBe(0);
  });

  it("reaches a reader who was away through join with since", async () => {
    const { pump, gateway, room, clock, recorder } = await inLobby();
    const upload = gateway.createUpload("lobby", { name: "dog.webp", type: "image/webp", size: 99 });
    const message = gateway.post("lobby", "", BOB, "b1", undefined, [
      { id: upload.id, name: "dog.webp", type: "image/webp", size: 99, image: true },
    ]);
    await pump();
    expect(room("lobby").timeline.messages[0]!.attachments![0]!.thumbnail).toBeUndefined();
    recorder.latest.drop(CloseCode.abnormal);
    gateway.mute = true; // processed while the reader's connection was down
    gateway.processed("lobby", message.id, { [upload.id]: { width: 10, height: 20, thumbnail: true } });
    gateway.mute = false;
    await clock.advance(1000);
    await pump();
    expect(recorder.latest.last("join")).toMatchObject({ room: "lobby", since: 1 });
    expect(room("lobby").timeline.messages[0]!.attachments![0]).toMatchObject({ width: 10, height: 20, thumbnail: true });
  });
});

describe("links to attached files", () => {
  it("asks once for a thumbnail's link while it lives, and again once it is about to expire", async () => {
    const { client, pump, gateway, room, clock } = await inLobby();
    client.attach("lobby", [png()]);
    await pump();
    client.send("lobby", "");
    await pump();
    const sent = room("lobby").timeline.messages.at(-1)!;
    await expect(client.attachmentLink("lobby", "up-1", "thumbnail")).rejects.toMatchObject({ code: "not_found" });
    await expect(client.attachmentLink("lobby", "up-1", "original")).rejects.toMatchObject({ code: "not_ready" });
    gateway.processed("lobby", sent.id, { "up-1": { width: 8, height: 8, thumbnail: true } });
    const [a, b] = await Promise.all([
      client.attachmentLink("lobby", "up-1", "thumbnail"),
      client.attachmentLink("lobby", "up-1", "thumbnail"),
    ]);
    expect(a).toBe(b);
    expect(a).toMatch(/^https:\/\/chat\.test\/chat-attachments\/thumbnails\/up-1\.webp\?/);
    const asked = gateway.linksAsked.length;
    await clock.advance(200_000);
    expect(await client.attachmentLink("lobby", "up-1", "thumbnail")).toBe(a);
    expect(gateway.linksAsked).toHaveLength(asked);
    await clock.advance(80_000); // within 30 s of the link's end
    expect(await client.attachmentLink("lobby", "up-1", "thumbnail")).not.toBe(a);
    expect(gateway.linksAsked).toHaveLength(asked + 1);
    expect(await client.attachmentLink("lobby", "up-1", "original")).toMatch(/\/originals\/up-1\?/);
  });
});

describe("failure words", () => {
  it("say what went wrong with the gateway and with the store", () => {
    expect(announceFailure(new ProtocolError("forbidden", "muted"), 1)).toEqual({
      error: "You may not post files in this room: muted",
      retryable: false,
    });
    expect(announceFailure(new ProtocolError("too_large", "over the limit"), 2048).error).toBe(
      "Too large to send (2 KB): over the limit",
    );
    expect(announceFailure(new ProtocolError("too_large", "a file may be at most 1048576 bytes; this one is 1048577"), 1048577).error).toBe(
      "Too large to send: files may be at most 1 MB",
    );
    expect(announceFailure(new ProtocolError("disconnected", "x"), 1).retryable).toBe(true);
    expect(announceFailure(new ProtocolError("unavailable", "x"), 1).error).toBe("The chat service is unavailable; try again");
    expect(storeFailure(new TransferError("refused", 403)).error).toMatch(/refused the upload/);
    expect(storeFailure(new TransferError("refused", 413))).toEqual({ error: "Too large for the file store", retryable: false });
    expect(retryIn(40_000)).toBe("in 40 s");
    expect(retryIn(61_000)).toBe("in 2 min");
  });
});

describe("isWebAddress", () => {
  it("lets only http(s) links into an <img> or a download", () => {
    expect(isWebAddress("https://chat.example/chat-attachments/originals/x?X-Amz-Signature=1")).toBe(true);
    expect(isWebAddress("/chat-attachments/originals/x")).toBe(true);
    expect(isWebAddress("javascript:alert(1)")).toBe(false);
    expect(isWebAddress("data:text/html,<script>alert(1)</script>")).toBe(false);
  });
});
