import { describe, expect, it } from "vitest";

import {
  PREVIEW_MAX_HEIGHT,
  PREVIEW_MAX_WIDTH,
  PREVIEW_UNKNOWN,
  attachmentName,
  attachmentSummary,
  humanSize,
  isPreviewable,
  previewBox,
  replacedAttachments,
  uploadType,
} from "./attachments";
import type { Attachment } from "./protocol";

const file = (id: string, fields: Partial<Attachment> = {}): Attachment => ({
  id,
  name: `${id}.bin`,
  type: "application/octet-stream",
  size: 10,
  image: false,
  ...fields,
});

describe("humanSize", () => {
  it.each([
    [0, "0 B"],
    [1, "1 B"],
    [1023, "1023 B"],
    [1024, "1 KB"],
    [1536, "1.5 KB"],
    [10 * 1024 - 1, "10 KB"],
    [123_456, "121 KB"],
    [1024 * 1024 - 100, "1 MB"],
    [25 * 1024 * 1024, "25 MB"],
    [3.5 * 1024 ** 3, "3.5 GB"],
  ])("%d bytes read as %s", (bytes, text) => {
    expect(humanSize(bytes)).toBe(text);
  });
});

describe("attachmentName", () => {
  it("keeps an ordinary name as it is", () => {
    expect(attachmentName("Quarterly report (final).pdf")).toBe("Quarterly report (final).pdf");
    expect(attachmentName("фото 😀.jpg")).toBe("фото 😀.jpg");
  });

  it("turns control characters and slashes of both kinds into _ and never leaves a name empty", () => {
    expect(attachmentName("a/b\u0000c\u001bd\u007f\\e.txt")).toBe("a_b_c_d__e.txt");
    expect(attachmentName("   ")).toBe("file");
    expect(attachmentName("")).toBe("file");
  });

  it("cuts a long name to 255 code points and keeps its extension", () => {
    const name = attachmentName(`${"😀".repeat(300)}.png`);
    expect(Array.from(name)).toHaveLength(255);
    expect(name.endsWith("😀.png")).toBe(true);
  });
});

describe("uploadType", () => {
  it("declares the browser's type, or application/octet-stream when it has none that is valid", () => {
    expect(uploadType("image/png")).toBe("image/png");
    expect(uploadType("Text/Plain; charset=utf-8")).toBe("text/plain");
    expect(uploadType("")).toBe("application/octet-stream");
    expect(uploadType("not a type")).toBe("application/octet-stream");
  });
});

describe("previewBox", () => {
  it("keeps a small image's own size and scales a large one down to the box, keeping its aspect", () => {
    expect(previewBox({ width: 200, height: 100 })).toEqual({ width: 200, height: 100 });
    expect(previewBox({ width: 4000, height: 3000 })).toEqual({ width: PREVIEW_MAX_WIDTH, height: 270 });
    expect(previewBox({ width: 1000, height: 4000 })).toEqual({ width: 70, height: PREVIEW_MAX_HEIGHT });
    expect(previewBox({ width: 100_000, height: 1 })).toEqual({ width: PREVIEW_MAX_WIDTH, height: 1 });
  });

  it("waits in a fixed box while the size is unknown", () => {
    expect(previewBox({})).toEqual(PREVIEW_UNKNOWN);
    expect(previewBox({ width: 0, height: 10 })).toEqual(PREVIEW_UNKNOWN);
  });
});

describe("isPreviewable", () => {
  it("previews only what the gateway marked an image: an SVG or HTML file never", () => {
    expect(isPreviewable(file("a", { type: "image/png", image: true }))).toBe(true);
    expect(isPreviewable(file("b", { type: "image/svg+xml", image: false }))).toBe(false);
    expect(isPreviewable(file("c", { type: "text/html", image: false }))).toBe(false);
  });
});

describe("replacedAttachments", () => {
  it("replaces the files with the same ids, keeps the others in place and adds none", () => {
    const current = [file("a"), file("b", { image: true, type: "image/png" })];
    const processed = file("b", { image: true, type: "image/png", width: 640, height: 480, thumbnail: true });
    const next = replacedAttachments(current, [processed, file("z")]);
    expect(next).toEqual([current[0], processed]);
    expect(next[0]).toBe(current[0]);
    expect(replacedAttachments(current, [file("z")])).toBe(current);
  });
});

describe("attachmentSummary", () => {
  it("names the first file and counts the rest", () => {
    expect(attachmentSummary([])).toBe("");
    expect(attachmentSummary([file("a")])).toBe("📎 a.bin");
    expect(attachmentSummary([file("a"), file("b"), file("c")])).toBe("📎 a.bin and 2 more");
  });
});
