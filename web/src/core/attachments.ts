// Files on messages (docs/protocol.md, "Attachments"): what the gateway accepts as a file's name
// and type, sizes in words, the box an image takes in the timeline, and how an `attachment` event
// changes a message's files. Pure functions; the uploads themselves are in uploads.ts.

import type { Attachment } from "./protocol";

// The gateway's default `upload_max_per_message`. A deployment that allows fewer says so with
// `bad_request` on send; the box stops the person at this many before anything is uploaded.
export const MAX_FILES_PER_MESSAGE = 10;

// What the gateway takes as a name: 1–255 characters, no `/` or `\`, no control characters.
const NAME_CHARS = 255;
// Control characters (C0, DEL, C1) and the path separators.
const UNSAFE_IN_NAME = /[\u0000-\u001f\u007f-\u009f/\\]/g;

/**
 * A file's name as the gateway accepts it: control characters, `/` and `\` become `_`, a name longer
 * than 255 characters (code points) is cut before its extension, which stays; an empty name is
 * `file`. What the person sees is the name the others will see.
 */
export function attachmentName(name: string): string {
  const clean = Array.from(name.replace(UNSAFE_IN_NAME, "_").trim());
  if (clean.length === 0) return "file";
  if (clean.length <= NAME_CHARS) return clean.join("");
  const dot = clean.lastIndexOf(".");
  const extension = dot > 0 && clean.length - dot <= 16 ? clean.slice(dot) : [];
  return [...clean.slice(0, NAME_CHARS - extension.length), ...extension].join("");
}

// type "/" subtype, each an RFC 6838 name, lower case, no parameters: what the gateway takes.
const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;

/**
 * The content type declared for a file: the browser's, in lower case and without parameters
 * (`text/plain;charset=utf-8` is `text/plain`), or `application/octet-stream` when it has none
 * (a name without a known extension) or an unusable one. The upload's signed PUT carries exactly
 * this type. The gateway compares it with what the file's first bytes are and refuses a mismatch
 * that matters (an image, HTML, SVG or script declared as something else).
 */
export function uploadType(browserType: string): string {
  const type = (browserType.split(";")[0] ?? "").trim().toLowerCase();
  return MEDIA_TYPE.test(type) ? type : "application/octet-stream";
}

const UNITS = ["KB", "MB", "GB", "TB"];

/** A size for people, in steps of 1024: `512 B`, `1.5 KB`, `25 MB`. */
export function humanSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 1024) return `${Math.max(0, Math.round(bytes || 0))} B`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  // One decimal below 10 (1.5 MB), none above (25 MB).
  let shown = value < 10 ? Math.round(value * 10) / 10 : Math.round(value);
  if (shown >= 1024 && unit < UNITS.length - 1) {
    shown = 1; // 1023.7 KB reads as 1 MB, not 1024 KB
    unit += 1;
  }
  return `${shown} ${UNITS[unit]}`;
}

/** A raster image the app previews: only what the gateway marked `image` ever goes into an <img>. */
export function isPreviewable(attachment: Attachment): boolean {
  return attachment.image === true;
}

// The largest box an image takes in the timeline, in CSS pixels: a thumbnail is shown at most
// this big (never larger than the image itself), so a tall one does not fill the screen.
export const PREVIEW_MAX_WIDTH = 360;
export const PREVIEW_MAX_HEIGHT = 280;
// An image whose size is not known yet (the media step has not processed it) waits in a box of
// this size.
export const PREVIEW_UNKNOWN = { width: 240, height: 180 } as const;

/**
 * The box an image takes: its own aspect ratio, scaled down to fit PREVIEW_MAX_* (never up), at
 * least a pixel each way; the fixed box while its size is unknown. The placeholder and the
 * thumbnail have the same box, so the row does not jump when the thumbnail arrives.
 */
export function previewBox(attachment: Pick<Attachment, "width" | "height">): { width: number; height: number } {
  const { width, height } = attachment;
  if (width === undefined || height === undefined || !(width > 0) || !(height > 0)) return { ...PREVIEW_UNKNOWN };
  const scale = Math.min(1, PREVIEW_MAX_WIDTH / width, PREVIEW_MAX_HEIGHT / height);
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/**
 * A message's files after an `attachment` event: each of the event's files replaces the one with
 * the same id; files the event does not name stay as they were, and an id the message does not
 * have is not added. Returns the same array when nothing changed.
 */
export function replacedAttachments(current: readonly Attachment[], changed: readonly Attachment[]): readonly Attachment[] {
  const byId = new Map(changed.filter((a) => typeof a?.id === "string").map((a) => [a.id, a]));
  let touched = false;
  const next = current.map((attachment) => {
    const replacement = byId.get(attachment.id);
    if (replacement === undefined) return attachment;
    touched = true;
    return replacement;
  });
  return touched ? next : current;
}

/** A line for a notification or a quote of a message of files alone: `📎 report.pdf` (and how many more). */
export function attachmentSummary(attachments: readonly Pick<Attachment, "name">[]): string {
  const first = attachments[0];
  if (first === undefined) return "";
  const more = attachments.length - 1;
  return more > 0 ? `📎 ${first.name} and ${more} more` : `📎 ${first.name}`;
}
