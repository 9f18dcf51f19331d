// Wires the client's core to the browser: fetch, cookies, WebSocket, timers, localStorage,
// page visibility. Everything the UI needs after sign-in hangs off one SignedIn object.

import { GatewayApi } from "../core/api";
import { AuthClient, TokenKeeper, decodeClaims, type AccessGrant, type RunExclusive } from "../core/auth";
import { ChatClient } from "../core/chat";
import { ChatConnection, type Clock, type OpenSocket } from "../core/connection";
import { MemoryStore, Prefs, type KeyValueStore } from "../core/prefs";
import { dmPartner } from "../core/protocol";
import { followRoutes, type PageHistory } from "../core/route";
import { showAlert } from "./notifications";
import { xhrPut } from "./upload";

export const browserClock: Clock = {
  now: () => Date.now(),
  setTimeout: (run, ms) => window.setTimeout(run, ms),
  clearTimeout: (handle) => window.clearTimeout(handle as number),
};

export const openBrowserSocket: OpenSocket = (url, handlers) => {
  const socket = new WebSocket(url);
  socket.onopen = () => handlers.onOpen();
  socket.onmessage = (event: MessageEvent<unknown>) => {
    if (typeof event.data === "string") handlers.onMessage(event.data);
  };
  socket.onclose = (event) => handlers.onClose(event.code, event.reason);
  return {
    send: (text) => socket.send(text),
    close: (code, reason) => socket.close(code, reason),
  };
};

const runExclusive: RunExclusive | undefined =
  typeof navigator !== "undefined" && "locks" in navigator
    ? (name, task) => navigator.locks.request(name, task)
    : undefined;

export const auth = new AuthClient({
  base: "/auth/v1",
  fetch: (input, init) => window.fetch(input, init),
  cookies: () => document.cookie,
  ...(runExclusive === undefined ? {} : { runExclusive }),
});

function localStore(): KeyValueStore {
  try {
    const probe = "chat:probe";
    window.localStorage.setItem(probe, "1");
    window.localStorage.removeItem(probe);
    return window.localStorage;
  } catch {
    return new MemoryStore();
  }
}

const browserHistory: PageHistory = {
  path: () => location.pathname,
  push: (path) => history.pushState(null, "", path),
  replace: (path) => history.replaceState(null, "", path),
  onMove: (listener) => {
    window.addEventListener("popstate", listener);
    return () => window.removeEventListener("popstate", listener);
  },
};

export interface SignedIn {
  readonly client: ChatClient;
  logout(): Promise<void>;
  /** Ends this page's session without telling the server (it already ended it). */
  close(): void;
}

/** Starts the chat for a fresh access grant; `onSignedOut` fires when the session ends. */
export function startSession(grant: AccessGrant, onSignedOut: (message: string) => void): SignedIn {
  const claims = decodeClaims(grant.accessToken);
  const me = { id: claims?.sub ?? "", name: claims?.name ?? "" };
  let ended = false;
  const end = (message: string | null): void => {
    if (ended) return;
    ended = true;
    document.removeEventListener("visibilitychange", onVisible);
    window.removeEventListener("online", onOnline);
    stopRoutes();
    client.stop();
    keeper.clear();
    if (message !== null) onSignedOut(message);
  };
  const keeper = new TokenKeeper({
    auth,
    clock: browserClock,
    onRefreshed: (token) => void connection?.refreshToken(token),
    onSignedOut: () => end("Your session has ended. Please sign in again."),
  });
  keeper.accept(grant);
  let connection: ChatConnection | null = null;
  const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
  const client = new ChatClient(me, {
    connect: (handlers) => {
      connection = new ChatConnection({
        url: wsUrl,
        openSocket: openBrowserSocket,
        clock: browserClock,
        random: Math.random,
        accessToken: (fresh) => keeper.accessToken(fresh),
        ...handlers,
        onState: (state) => {
          handlers.onState(state);
          if (state.phase === "stopped" && state.reason === "session_ended") {
            end("Your session has ended. Please sign in again.");
          } else if (state.phase === "stopped" && state.reason === "signed_out") {
            end("You were signed out.");
          }
        },
      });
      return connection;
    },
    api: new GatewayApi({
      base: "/v1",
      fetch: (input, init) => window.fetch(input, init),
      accessToken: (fresh) => keeper.accessToken(fresh),
    }),
    putFile: xhrPut,
    prefs: new Prefs(localStore(), me.id),
    clock: browserClock,
    newId: () => crypto.randomUUID(),
    isVisible: () => document.visibilityState === "visible",
    notify: (alert) =>
      showAlert(alert, (room) => client.openRoom(room, dmPartner(room, me.id) === null ? "public" : "dm")),
  });
  function onVisible(): void {
    if (document.visibilityState === "visible") client.visibilityChanged();
  }
  function onOnline(): void {
    client.reconnectNow(); // the network is back: no reason to sit out the backoff
  }
  document.addEventListener("visibilitychange", onVisible);
  window.addEventListener("online", onOnline);
  const stopRoutes = followRoutes(client, browserHistory);
  client.start();
  return {
    client,
    async logout() {
      end(null);
      await auth.logout().catch(() => undefined);
    },
    close() {
      end(null);
    },
  };
}
