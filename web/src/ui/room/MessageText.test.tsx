import { render } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import type { UserRef } from "../../core/protocol";
import { MessageText } from "./MessageText";

const ANN: UserRef = { id: "u-ann", name: "ann" };

function shown(body: string, mentions?: readonly string[]): HTMLElement {
  const { container } = render(
    <div data-testid="message-body">
      <MessageText body={body} me={ANN} mentions={mentions} />
    </div>,
  );
  return container.firstElementChild as HTMLElement;
}

// The tag names of every element inside, in document order.
const tags = (root: HTMLElement): string[] => [...root.querySelectorAll("*")].map((e) => e.tagName);

describe("MessageText", () => {
  it("draws plain text as one text node, exactly as written", () => {
    const root = shown("just words\n\n  indented");
    expect(root.childNodes).toHaveLength(1);
    expect(root.textContent).toBe("just words\n\n  indented");
    expect(tags(root)).toEqual([]);
  });

  it("draws formatting with elements and loses no text", () => {
    const root = shown("**bold** *it* `x < y` [docs](https://example.com/docs)\n```\n<b>as is</b>\n```");
    expect(tags(root)).toEqual(["STRONG", "EM", "CODE", "A", "PRE", "CODE"]);
    expect(root.querySelector("strong")?.textContent).toBe("bold");
    expect(root.querySelector("em")?.textContent).toBe("it");
    expect(root.querySelector("code")?.textContent).toBe("x < y");
    expect(root.querySelector("pre")?.textContent).toBe("<b>as is</b>");
    expect(root.querySelector("pre")).toHaveAttribute("dir", "ltr");
  });

  it("opens links in a new tab without handing over the page", () => {
    const root = shown("see https://example.com/a and [b](http://example.org/b)");
    const anchors = [...root.querySelectorAll("a")];
    expect(anchors.map((a) => [a.getAttribute("href"), a.textContent])).toEqual([
      ["https://example.com/a", "https://example.com/a"],
      ["http://example.org/b", "b"],
    ]);
    for (const a of anchors) {
      expect(a).toHaveAttribute("target", "_blank");
      expect(a).toHaveAttribute("rel", "noopener noreferrer");
    }
  });

  it("makes no element and no link of hostile text", () => {
    for (const hostile of [
      "<img src=x onerror=alert(1)>",
      '<a href="javascript:alert(1)">x</a>',
      "[click](javascript:alert(1))",
      "javascript:alert(1)",
      "[x](data:text/html,<script>alert(1)</script>)",
      "<script>alert(1)</script>",
    ]) {
      const root = shown(hostile);
      expect(tags(root), hostile).toEqual([]);
      expect(root.textContent, hostile).toBe(hostile);
      root.parentElement?.remove();
    }
  });

  it("highlights the reader's name only when the message mentions them", () => {
    const root = shown("@bob and @Ann, look", [ANN.id]);
    const marks = [...root.querySelectorAll("mark")];
    expect(marks.map((m) => m.textContent)).toEqual(["@Ann"]);
    expect(root.textContent).toBe("@bob and @Ann, look");
    root.parentElement?.remove();
    expect(shown("@ann, look", ["u-bob"]).querySelectorAll("mark")).toHaveLength(0);
  });
});
