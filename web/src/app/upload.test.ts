import { afterEach, describe, expect, it, vi } from "vitest";

import { TransferError } from "../core/uploads";
import { xhrPut } from "./upload";

/** XMLHttpRequest as far as the upload uses it; the test plays the network. */
class FakeXhr {
  static last: FakeXhr | null = null;
  readonly upload: { onprogress: ((event: { loaded: number }) => void) | null } = { onprogress: null };
  readonly headers: Record<string, string> = {};
  opened: [string, string] | null = null;
  body: unknown = null;
  status = 0;
  aborted = false;
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  ontimeout: (() => void) | null = null;
  onabort: (() => void) | null = null;

  constructor() {
    FakeXhr.last = this;
  }
  open(method: string, url: string): void {
    this.opened = [method, url];
  }
  setRequestHeader(name: string, value: string): void {
    this.headers[name] = value;
  }
  send(body: unknown): void {
    this.body = body;
  }
  abort(): void {
    this.aborted = true;
    this.onabort?.();
  }
}

const ticket = {
  id: "up-1",
  url: "https://chat.example/chat-attachments/originals/up-1?X-Amz-Signature=abc",
  method: "PUT",
  headers: { "Content-Type": "image/png" },
  expiresAt: "2030-01-01T00:00:00Z",
};

function start() {
  vi.stubGlobal("XMLHttpRequest", FakeXhr);
  const file = new Blob([new Uint8Array(1000)], { type: "image/png" });
  const sent: number[] = [];
  const transfer = xhrPut(ticket, Object.assign(file, { name: "a.png" }), (n) => sent.push(n));
  return { transfer, xhr: FakeXhr.last!, file, sent };
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("xhrPut", () => {
  it("PUTs the file itself to the presigned URL with exactly the ticket's headers, telling its progress", async () => {
    const { transfer, xhr, file, sent } = start();
    expect(xhr.opened).toEqual(["PUT", ticket.url]);
    expect(xhr.headers).toEqual({ "Content-Type": "image/png" });
    expect(xhr.body).toBe(file);
    xhr.upload.onprogress?.({ loaded: 400 });
    xhr.upload.onprogress?.({ loaded: 1000 });
    xhr.status = 200;
    xhr.onload?.();
    await expect(transfer.done).resolves.toBeUndefined();
    expect(sent).toEqual([400, 1000]);
  });

  it("fails with the store's status, with a network error, and when stopped", async () => {
    const refused = start();
    refused.xhr.status = 403;
    refused.xhr.onload?.();
    await expect(refused.transfer.done).rejects.toEqual(new TransferError("refused", 403));
    const lost = start();
    lost.xhr.onerror?.();
    await expect(lost.transfer.done).rejects.toMatchObject({ reason: "network" });
    const stopped = start();
    stopped.transfer.abort();
    expect(stopped.xhr.aborted).toBe(true);
    await expect(stopped.transfer.done).rejects.toMatchObject({ reason: "aborted" });
  });
});
