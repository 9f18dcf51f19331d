import { describe, expect, it } from "vitest";

import type { ChatMessage } from "./protocol";
import { applyEvent, applyEvents, excerptOf, reacted } from "./roomLog";
import { NO_MESSAGES, caughtUp, merge, pageArrived, received, roomMessages } from "./stores/messages";

const ANN = { id: "u-ann", name: "ann" };
const BOB = { id: "u-bob", name: "bob" };

function message(seq: number, body = `message ${seq}`, user = ANN): ChatMessage {
  return {
    id: `m${seq}`,
    room: "lobby",
    seq,
    user,
    body,
    ts: new Date(Date.UTC(2025, 0, 1, 12, seq)).toISOString(),
    client_msg_id: `c${seq}`,
  };
}

function event(seq: number, kind: string, target: string, fields: Partial<ChatMessage> = {}, user = ANN): ChatMessage {
  const { body: _body, ...base } = message(seq, "", user);
  return { ...base, id: `e${seq}`, kind, target, ...fields };
}

const edit = (seq: number, target: string, body: string, user = ANN) =>
  event(seq, "edit", target, { body, edited_at: `2025-01-01T13:00:${String(seq).padStart(2, "0")}.000Z` }, user);
const remove = (seq: number, target: string, user = ANN) => event(seq, "delete", target, {}, user);
const react = (seq: number, target: string, emoji: string, on: boolean, user = ANN) =>
  event(seq, "reaction", target, { emoji, on }, user);

describe("applyEvent", () => {
  it("gives an edit's text and time to its target and records the event's seq", () => {
    const next = applyEvent(message(1), edit(2, "m1", "fixed"), ANN.id);
    expect(next).toMatchObject({ body: "fixed", edited_at: "2025-01-01T13:00:02.000Z", updated_seq: 2, seq: 1 });
  });

  it("skips an event at or below the message's updated_seq: history's state holds it already", () => {
    const fromHistory = { ...message(1, "newest"), updated_seq: 5 };
    expect(applyEvent(fromHistory, edit(5, "m1", "older"), ANN.id)).toBe(fromHistory);
    expect(applyEvent(fromHistory, edit(4, "m1", "older"), ANN.id)).toBe(fromHistory);
    expect(applyEvent(fromHistory, edit(6, "m1", "newer"), ANN.id).body).toBe("newer");
  });

  it("leaves of a deleted message its place and nothing else, for good", () => {
    const reply = { id: "m0", user: BOB, excerpt: "hi" };
    const rich = { ...message(1), mentions: [BOB.id], reply_to: reply, reactions: [{ emoji: "👍", count: 1, me: false }] };
    const gone = applyEvent(rich, remove(2, "m1"), ANN.id);
    expect(gone).toEqual({
      id: "m1",
      room: "lobby",
      seq: 1,
      user: ANN,
      ts: rich.ts,
      client_msg_id: "c1",
      deleted: true,
      updated_seq: 2,
    });
    expect(applyEvent(gone, edit(3, "m1", "back"), ANN.id)).toBe(gone);
    expect(applyEvent(gone, react(4, "m1", "👍", true), ANN.id)).toBe(gone);
    expect(applyEvent(gone, remove(5, "m1"), ANN.id)).toBe(gone);
  });

  it("ignores an entry of a kind it does not know, and an erased edit without words", () => {
    const held = message(1);
    expect(applyEvent(held, event(2, "pin", "m1", { body: "pinned" }), ANN.id)).toBe(held);
    expect(applyEvent(held, event(3, "edit", "m1", { deleted: true }), ANN.id)).toBe(held);
  });

  it("applies an event to the message it names only", () => {
    const held = message(1);
    expect(applyEvent(held, edit(2, "m9", "elsewhere"), ANN.id)).toBe(held);
  });
});

describe("reactions", () => {
  it("count the people per emoji, in the order each was first added, marking the reader's own", () => {
    let chips = reacted([], "👍", true, false);
    chips = reacted(chips, "🎉", true, true);
    chips = reacted(chips, "👍", true, true);
    expect(chips).toEqual([
      { emoji: "👍", count: 2, me: true },
      { emoji: "🎉", count: 1, me: true },
    ]);
    chips = reacted(chips, "👍", false, true);
    expect(chips[0]).toEqual({ emoji: "👍", count: 1, me: false });
    chips = reacted(chips, "👍", false, false);
    expect(chips).toEqual([{ emoji: "🎉", count: 1, me: true }]);
  });

  it("follow A reacts, B reacts, A takes it back, as each reader sees it", () => {
    const log = [message(1), react(2, "m1", "👍", true, ANN), react(3, "m1", "👍", true, BOB), react(4, "m1", "👍", false, ANN)];
    const seenBy = (me: string, upTo: number) => roomMessages(caughtUp({}, "lobby", log.slice(0, upTo), upTo, me), "lobby").messages[0]!;
    expect(seenBy(BOB.id, 2).reactions).toEqual([{ emoji: "👍", count: 1, me: false }]);
    expect(seenBy(BOB.id, 3).reactions).toEqual([{ emoji: "👍", count: 2, me: true }]);
    expect(seenBy(BOB.id, 4).reactions).toEqual([{ emoji: "👍", count: 1, me: true }]);
    expect(seenBy(ANN.id, 4).reactions).toEqual([{ emoji: "👍", count: 1, me: false }]);
  });

  it("go away with the last person who took theirs back", () => {
    const log = [message(1), react(2, "m1", "👍", true), react(3, "m1", "👍", false)];
    expect(roomMessages(caughtUp({}, "lobby", log, 3, ANN.id), "lobby").messages[0]!.reactions).toBeUndefined();
  });
});

describe("the fold in the message store", () => {
  it("applies events in seq order whatever order they arrive in, and never makes them rows", () => {
    const room = merge(NO_MESSAGES, [edit(3, "m1", "second"), message(1), edit(2, "m1", "first"), message(4)]);
    expect(room.messages.map((m) => m.seq)).toEqual([1, 4]);
    expect(room.messages[0]).toMatchObject({ body: "second", updated_seq: 3 });
    expect(room.byId.get("m1")).toBe(room.messages[0]);
    expect(room.lastSeq).toBe(4);
  });

  it("applies a live event once, however often it comes (a catch-up that repeats it)", () => {
    const base = merge(NO_MESSAGES, [message(1)], BOB.id);
    const once = merge(base, [react(2, "m1", "👍", true)], BOB.id);
    expect(merge(once, [react(2, "m1", "👍", true)], BOB.id)).toBe(once);
    const caught = roomMessages(caughtUp({ lobby: once }, "lobby", [react(2, "m1", "👍", true)], 2, BOB.id), "lobby");
    expect(caught.messages[0]!.reactions).toEqual([{ emoji: "👍", count: 1, me: false }]);
  });

  it("skips an event whose target it does not hold, but resumes after it", () => {
    const held = merge(NO_MESSAGES, [message(10)]);
    const after = merge(held, [edit(11, "m3", "older than what is held")]);
    expect(after.messages).toBe(held.messages);
    expect(after.lastSeq).toBe(11);
  });

  it("keeps a history page's state and applies only the newer events on top", () => {
    const fromHistory = { ...message(1, "edited once"), updated_seq: 3 };
    const state = pageArrived({}, "lobby", [fromHistory], false, 0, ANN.id);
    const next = caughtUp(state, "lobby", [edit(3, "m1", "edited once"), edit(4, "m1", "edited twice")], 4, ANN.id);
    expect(roomMessages(next, "lobby").messages[0]).toMatchObject({ body: "edited twice", updated_seq: 4 });
  });

  it("replays a deleted message's log as join gives it: the message, its erased edits, then the delete", () => {
    const gone = { ...message(1), deleted: true, body: undefined } as ChatMessage;
    const erasedEdit = event(2, "edit", "m1", { deleted: true });
    const state = caughtUp({}, "lobby", [gone, erasedEdit, remove(3, "m1")], 3, ANN.id);
    const held = roomMessages(state, "lobby").messages[0]!;
    expect(held.deleted).toBe(true);
    expect(held.body).toBeUndefined();
  });

  it("a live delete turns the row into a placeholder and a later reaction changes nothing", () => {
    let state = received({}, message(1), ANN.id);
    state = received(state, remove(2, "m1", BOB), ANN.id);
    const deleted = roomMessages(state, "lobby");
    expect(received(state, react(3, "m1", "👍", true), ANN.id).lobby!.messages).toBe(deleted.messages);
    expect(deleted.messages[0]).toMatchObject({ deleted: true, updated_seq: 2 });
  });

  it("applyEvents returns the same arrays when nothing applies", () => {
    const held = merge(NO_MESSAGES, [message(1)]);
    const out = applyEvents(held.messages, held.byId, [event(2, "pin", "m1")], ANN.id);
    expect(out.messages).toBe(held.messages);
  });
});

describe("excerptOf", () => {
  it("cuts at 200 characters, counting an emoji as one", () => {
    expect(excerptOf(message(1, "😀".repeat(250)))).toBe("😀".repeat(200));
    expect(excerptOf(message(1, "short"))).toBe("short");
  });
});

describe("the attachment event", () => {
  const photo = { id: "up-1", name: "cat.jpg", type: "image/jpeg", size: 2048, image: true };
  const notes = { id: "up-2", name: "notes.txt", type: "text/plain", size: 12, image: false };
  const withFiles = (): ChatMessage => ({ ...message(1), attachments: [photo, notes] });
  const processed = { ...photo, width: 1200, height: 800, thumbnail: true };
  const attachment = (seq: number, target: string, attachments: ChatMessage["attachments"]) =>
    event(seq, "attachment", target, { attachments });

  it("replaces the target's files with the same ids, keeping the others", () => {
    const next = applyEvent(withFiles(), attachment(2, "m1", [processed]), ANN.id);
    expect(next.attachments).toEqual([processed, notes]);
    expect(next.updated_seq).toBe(2);
    expect(next.body).toBe("message 1");
  });

  it("turns an image the media step could not decode into a file", () => {
    const broken = { ...photo, image: false };
    expect(applyEvent(withFiles(), attachment(2, "m1", [broken]), ANN.id).attachments).toEqual([broken, notes]);
  });

  it("is applied once, by seq, like the other room events: history's state holds it already", () => {
    const fromHistory = { ...withFiles(), attachments: [processed, notes], updated_seq: 2 };
    expect(applyEvent(fromHistory, attachment(2, "m1", [{ ...photo }]), ANN.id)).toBe(fromHistory);
    const room = merge(NO_MESSAGES, [attachment(2, "m1", [processed]), withFiles()]);
    expect(room.messages[0]!.attachments).toEqual([processed, notes]);
    expect(room.lastSeq).toBe(2);
  });

  it("changes nothing on a deleted message, and a delete takes the files away", () => {
    let state = received({}, withFiles(), ANN.id);
    state = received(state, remove(2, "m1"), ANN.id);
    expect(roomMessages(state, "lobby").messages[0]!.attachments).toBeUndefined();
    const after = received(state, attachment(3, "m1", [processed]), ANN.id);
    expect(after.lobby!.messages).toBe(state.lobby!.messages);
  });

  it("ignores a malformed event and one naming a message without files", () => {
    const held = withFiles();
    expect(applyEvent(held, event(2, "attachment", "m1", {}), ANN.id)).toBe(held);
    const plain = message(1);
    expect(applyEvent(plain, attachment(2, "m1", [processed]), ANN.id)).toBe(plain);
  });
});
