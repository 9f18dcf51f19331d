import { describe, expect, it } from "vitest";

import { ChatConnection, SignedOut, decideAfterClose, type ConnectionState } from "./connection";
import { CloseCode, ProtocolError, type ConnectReply, type ServerEvent } from "./protocol";
import { FakeClock, SocketRecorder, settle, type FakeSocket } from "../test/fakes";

const USER = { id: "u-ann", name: "ann", roles: ["member"] };

function setup(tokens: (fresh: boolean) => Promise<string> = async (fresh) => (fresh ? "fresh" : "t1")) {
  const clock = new FakeClock();
  const recorder = new SocketRecorder();
  const states: ConnectionState[] = [];
  const ready: ConnectReply[] = [];
  const events: ServerEvent[] = [];
  const tokenCalls: boolean[] = [];
  const connection = new ChatConnection({
    url: "wss://chat.test/ws",
    openSocket: recorder.open,
    clock,
    random: () => 0.5,
    accessToken: (fresh) => {
      tokenCalls.push(fresh);
      return tokens(fresh);
    },
    onReady: (reply) => ready.push(reply),
    onEvent: (event) => events.push(event),
    onState: (state) => states.push(state),
  });
  return { clock, recorder, states, ready, events, tokenCalls, connection };
}

async function accept(socket: FakeSocket): Promise<void> {
  socket.open();
  const connect = socket.last("connect");
  socket.reply(connect, { user: USER, session: "s", server_time: "", limits: {} });
  await settle();
}

describe("ChatConnection", () => {
  it("sends connect with the token first and is online after the reply", async () => {
    const { recorder, connection, ready, states } = setup();
    connection.start();
    await settle();
    const socket = recorder.latest;
    socket.open();
    expect(socket.sent[0]).toMatchObject({ type: "connect", token: "t1" });
    expect(connection.online).toBe(false);
    socket.reply(socket.last("connect"), { user: USER, session: "s", server_time: "", limits: {} });
    await settle();
    expect(connection.online).toBe(true);
    expect(ready).toHaveLength(1);
    expect(states.map((s) => s.phase)).toEqual(["connecting", "online"]);
  });

  it("matches each reply to its request by id", async () => {
    const { recorder, connection } = setup();
    connection.start();
    await settle();
    await accept(recorder.latest);
    const first = connection.request("history", { room: "a" });
    const second = connection.request("history", { room: "b" });
    const socket = recorder.latest;
    const [a, b] = socket.sent.filter((c) => c.type === "history");
    socket.reply(b!, { messages: [], has_more: false });
    socket.reply(a!, { messages: [], has_more: true });
    expect((await first).has_more).toBe(true);
    expect((await second).has_more).toBe(false);
  });

  it("rejects an error reply with its code", async () => {
    const { recorder, connection } = setup();
    connection.start();
    await settle();
    await accept(recorder.latest);
    const sent = connection.request("send", { room: "a", body: "x", client_msg_id: "c" });
    recorder.latest.error(recorder.latest.last("send"), "forbidden");
    await expect(sent).rejects.toMatchObject({ code: "forbidden" });
  });

  it("reconnects with backoff after the socket dies and fails requests in flight", async () => {
    const { recorder, connection, clock, states, ready } = setup();
    connection.start();
    await settle();
    await accept(recorder.latest);
    const inFlight = connection.request("history", { room: "a" });
    recorder.latest.drop(CloseCode.abnormal);
    await expect(inFlight).rejects.toMatchObject({ code: "disconnected" });
    const waiting = states[states.length - 1]!;
    expect(waiting.phase).toBe("reconnecting");
    if (waiting.phase !== "reconnecting") return;
    expect(waiting.retryAt - clock.now()).toBe(750); // half of 1 s fixed, half jittered (0.5)
    await clock.advance(749);
    expect(recorder.sockets).toHaveLength(1);
    await clock.advance(1);
    expect(recorder.sockets).toHaveLength(2);
    await accept(recorder.latest);
    expect(ready).toHaveLength(2);
  });

  it("waits longer after each failed attempt and starts over once connected", async () => {
    const { recorder, connection, clock, states } = setup();
    connection.start();
    await settle();
    const waits: number[] = [];
    for (let i = 0; i < 3; i++) {
      recorder.latest.drop(CloseCode.abnormal);
      const state = states[states.length - 1]!;
      if (state.phase === "reconnecting") waits.push(state.retryAt - clock.now());
      await clock.advance(waits[waits.length - 1]!);
    }
    expect(waits).toEqual([750, 1500, 3000]);
    await accept(recorder.latest);
    recorder.latest.drop(CloseCode.abnormal);
    const state = states[states.length - 1]!;
    expect(state.phase === "reconnecting" && state.retryAt - clock.now()).toBe(750);
  });

  it("fetches a fresh token at once when the gateway refuses the token", async () => {
    const { recorder, connection, clock, tokenCalls } = setup();
    connection.start();
    await settle();
    await accept(recorder.latest);
    recorder.latest.drop(CloseCode.unauthorized, "token_expired");
    await clock.advance(0);
    expect(tokenCalls).toEqual([false, true]);
    recorder.latest.open();
    expect(recorder.latest.last("connect").token).toBe("fresh");
  });

  it("stops when even a fresh token is refused at the handshake", async () => {
    const { recorder, connection, clock, states } = setup();
    connection.start();
    await settle();
    recorder.latest.open();
    recorder.latest.error(recorder.latest.last("connect"), "unauthorized");
    await clock.advance(0);
    recorder.latest.open();
    recorder.latest.error(recorder.latest.last("connect"), "unauthorized");
    await settle();
    expect(states[states.length - 1]).toEqual({ phase: "stopped", reason: "session_ended" });
  });

  it("stops when the session is over", async () => {
    const { connection, states } = setup(async () => {
      throw new SignedOut();
    });
    connection.start();
    await settle();
    expect(states[states.length - 1]).toEqual({ phase: "stopped", reason: "signed_out" });
  });

  it("moves to another gateway soon after a reconnect event", async () => {
    const { recorder, connection, clock, events } = setup();
    connection.start();
    await settle();
    await accept(recorder.latest);
    const draining = recorder.latest;
    draining.push({ type: "reconnect", reason: "server draining" });
    expect(events).toEqual([{ type: "reconnect", reason: "server draining" }]);
    expect(connection.online).toBe(true);
    await clock.advance(500); // the spread: random 0.5 of one second
    expect(draining.closed?.code).toBe(CloseCode.normal);
    expect(recorder.sockets).toHaveLength(2);
    await accept(recorder.latest);
    expect(connection.online).toBe(true);
    draining.drop(CloseCode.draining); // the old socket's late close changes nothing
    expect(connection.online).toBe(true);
  });

  it("gives up a connection whose pings go unanswered", async () => {
    const { recorder, connection, clock } = setup();
    connection.start();
    await settle();
    await accept(recorder.latest);
    await clock.advance(25_000);
    expect(recorder.latest.last("ping")).toBeDefined();
    await clock.advance(10_000);
    expect(connection.online).toBe(false);
    expect(recorder.sockets[0]!.closed).not.toBeNull();
  });

  it("retries a handshake that never completes", async () => {
    const { recorder, connection, clock } = setup();
    connection.start();
    await settle();
    recorder.latest.open();
    await clock.advance(8000);
    expect(connection.state.phase).toBe("reconnecting");
    await clock.advance(1000);
    expect(recorder.sockets).toHaveLength(2);
  });

  it("refuses requests while offline instead of queueing them", async () => {
    const { connection } = setup();
    await expect(connection.request("history", { room: "a" })).rejects.toBeInstanceOf(ProtocolError);
    expect(connection.notify("typing", { room: "a" })).toBe(false);
  });

  it("passes a refreshed token to the gateway", async () => {
    const { recorder, connection } = setup();
    connection.start();
    await settle();
    await accept(recorder.latest);
    const done = connection.refreshToken("newer");
    const refresh = recorder.latest.last("refresh");
    expect(refresh.token).toBe("newer");
    recorder.latest.reply(refresh, { expires_at: "2030-01-01T00:00:00Z" });
    await done;
  });
});

describe("decideAfterClose", () => {
  const half = (): number => 0.5;
  it("comes back quickly from a draining gateway", () => {
    const decision = decideAfterClose(CloseCode.draining, 5, false, half);
    expect(decision).toMatchObject({ kind: "retry", resetAttempts: true });
    expect(decision.kind === "retry" && decision.delayMs).toBeLessThanOrEqual(1000);
  });

  it("backs off after policy closes like everything unexpected", () => {
    expect(decideAfterClose(CloseCode.policy, 3, false, half)).toMatchObject({ kind: "retry", delayMs: 6000 });
  });
});
