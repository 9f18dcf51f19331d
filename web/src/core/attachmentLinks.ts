// Links to attached files (`GET /v1/rooms/{room}/attachments/{id}?variant=`): presigned, good for
// a few minutes. The timeline asks for a thumbnail's link each time its row is drawn again (the
// list is virtualized: rows come and go as one scrolls), so a link is kept until shortly before
// it expires, and the rows asking at once share one request.

import type { AttachmentLink, AttachmentVariant, GatewayApi } from "./api";
import type { Clock } from "./connection";
import { ProtocolError } from "./protocol";

// A link is used again only while it has at least this long to live: an <img> or a download
// started with it must reach the store before the signature expires.
export const LINK_MARGIN_MS = 30_000;

interface Held {
  url: string;
  /** ms since the epoch; 0: not to be kept. */
  until: number;
}

export class AttachmentLinks {
  private readonly held = new Map<string, Held>();
  private readonly asking = new Map<string, Promise<string>>();

  constructor(
    private readonly api: Pick<GatewayApi, "attachmentLink">,
    private readonly clock: Pick<Clock, "now">,
  ) {}

  /** The URL of one of an attachment's files; rejects with the gateway's reason (404, 409 not_ready). */
  link(room: string, id: string, variant: AttachmentVariant): Promise<string> {
    const key = `${room}\n${id}\n${variant}`;
    const held = this.held.get(key);
    if (held !== undefined && held.until > this.clock.now()) return Promise.resolve(held.url);
    const asked = this.asking.get(key);
    if (asked !== undefined) return asked;
    const request = this.api
      .attachmentLink(room, id, variant)
      .then((link) => {
        // It goes into an <img> or a download link: nothing but a web address may.
        if (!isWebAddress(link.url)) throw new ProtocolError("internal", "the gateway's link is not an http(s) address");
        this.keep(key, link);
        return link.url;
      })
      .finally(() => this.asking.delete(key));
    this.asking.set(key, request);
    return request;
  }

  private keep(key: string, link: AttachmentLink): void {
    const now = this.clock.now();
    // Links of rooms long left behind go once they expire, so a long visit holds only live ones.
    for (const [other, held] of this.held) if (held.until <= now) this.held.delete(other);
    const expires = Date.parse(link.expiresAt);
    const until = Number.isFinite(expires) ? expires - LINK_MARGIN_MS : 0;
    if (until > now) this.held.set(key, { url: link.url, until });
    else this.held.delete(key);
  }
}

/** An http(s) URL (absolute, or a path on the page's own origin). */
export function isWebAddress(url: string): boolean {
  try {
    const parsed = new URL(url, "https://page.invalid/");
    return parsed.protocol === "https:" || parsed.protocol === "http:";
  } catch {
    return false;
  }
}
