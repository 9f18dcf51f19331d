import { describe, expect, it } from "vitest";

import { type Block, type Inline, type StepMeter, parseBody, safeHref } from "./markup";

// The inlines of a body that is one line.
function line(body: string): Inline[] {
  const blocks = parseBody(body);
  expect(blocks).toHaveLength(1);
  const [block] = blocks;
  if (block?.kind !== "lines") throw new Error(`not lines: ${JSON.stringify(block)}`);
  expect(block.lines).toHaveLength(1);
  return block.lines[0] ?? [];
}

const text = (value: string): Inline => ({ kind: "text", text: value });

// Every link anywhere in a tree.
function links(blocks: Block[]): string[] {
  const found: string[] = [];
  const walk = (nodes: readonly Inline[]) => {
    for (const node of nodes) {
      if (node.kind === "link") found.push(node.href);
      if (node.kind === "bold" || node.kind === "italic") walk(node.children);
    }
  };
  for (const block of blocks) if (block.kind === "lines") block.lines.forEach(walk);
  return found;
}

// All the text a tree shows, in order: what the person wrote minus the markers that formatted it.
function shown(nodes: readonly Inline[]): string {
  return nodes
    .map((node) => (node.kind === "bold" || node.kind === "italic" ? shown(node.children) : node.text))
    .join("");
}

describe("parseBody", () => {
  it("reads plain text as one text node per line, blank lines kept", () => {
    expect(parseBody("hello\n\nworld")).toEqual([
      { kind: "lines", lines: [[text("hello")], [], [text("world")]] },
    ]);
    expect(line("just words, 3 * 4 = 12")).toEqual([text("just words, 3 * 4 = 12")]);
  });

  it("reads bold, italic with either marker, and inline code", () => {
    expect(line("a **b** *c* _d_ `e`")).toEqual([
      text("a "),
      { kind: "bold", children: [text("b")] },
      text(" "),
      { kind: "italic", children: [text("c")] },
      text(" "),
      { kind: "italic", children: [text("d")] },
      text(" "),
      { kind: "code", text: "e" },
    ]);
  });

  it("nests italic in bold", () => {
    expect(line("**very *much* so**")).toEqual([
      {
        kind: "bold",
        children: [text("very "), { kind: "italic", children: [text("much")] }, text(" so")],
      },
    ]);
  });

  it("leaves unbalanced and crossed markers as text", () => {
    expect(line("**not closed")).toEqual([text("**not closed")]);
    expect(line("*a _b* c_")).toEqual([{ kind: "italic", children: [text("a _b")] }, text(" c_")]);
    expect(line("a ** b ** c")).toEqual([text("a ** b ** c")]);
    expect(line("****")).toEqual([text("****")]);
    expect(line("***triple***")).toEqual([text("***triple***")]);
    expect(line("`no end")).toEqual([text("`no end")]);
    expect(line("``a`b` c")).toEqual([text("``a"), { kind: "code", text: "b" }, text(" c")]);
  });

  it("keeps underscores inside words as characters", () => {
    expect(line("snake_case_name and _this_")).toEqual([
      text("snake_case_name and "),
      { kind: "italic", children: [text("this")] },
    ]);
  });

  it("does not let markers span lines", () => {
    expect(parseBody("**a\nb**")).toEqual([{ kind: "lines", lines: [[text("**a")], [text("b**")]] }]);
  });

  it("closes a code span with a run of as many backticks", () => {
    expect(line("``a ` b`` after")).toEqual([{ kind: "code", text: "a ` b" }, text(" after")]);
  });

  it("keeps code verbatim: no formatting, links or names inside", () => {
    expect(line("`**x** [a](https://a.example) @ann`")).toEqual([
      { kind: "code", text: "**x** [a](https://a.example) @ann" },
    ]);
    expect(parseBody("before\n```js\n**x** _y_\n  <b>https://a.example</b>\n```\nafter")).toEqual([
      { kind: "lines", lines: [[text("before")]] },
      { kind: "code", text: "**x** _y_\n  <b>https://a.example</b>" },
      { kind: "lines", lines: [[text("after")]] },
    ]);
  });

  it("opens no block at a line with more backticks after its fence", () => {
    expect(parseBody("```x``` and more\n```")).toEqual([
      { kind: "lines", lines: [[{ kind: "code", text: "x" }, text(" and more")], [text("```")]] },
    ]);
  });

  it("leaves an unclosed fence as text", () => {
    expect(parseBody("```\n**b**")).toEqual([
      { kind: "lines", lines: [[text("```")], [{ kind: "bold", children: [text("b")] }]] },
    ]);
  });

  it("links bare http and https URLs, leaving sentence punctuation outside", () => {
    expect(line("see https://example.com/a_b_c?x=1*2, or (http://example.org/x).")).toEqual([
      text("see "),
      { kind: "link", href: "https://example.com/a_b_c?x=1*2", text: "https://example.com/a_b_c?x=1*2" },
      text(", or ("),
      { kind: "link", href: "http://example.org/x", text: "http://example.org/x" },
      text(")."),
    ]);
    expect(line("https://en.wikipedia.org/wiki/Foo_(bar)")).toEqual([
      {
        kind: "link",
        href: "https://en.wikipedia.org/wiki/Foo_(bar)",
        text: "https://en.wikipedia.org/wiki/Foo_(bar)",
      },
    ]);
  });

  it("links [text](url) with http and https only", () => {
    expect(line("[the docs](https://example.com/docs) now")).toEqual([
      { kind: "link", href: "https://example.com/docs", text: "the docs" },
      text(" now"),
    ]);
    for (const hostile of [
      "[x](javascript:alert(1))",
      "[x](JavaScript:alert(1))",
      "[x](data:text/html,<script>alert(1)</script>)",
      "[x](vbscript:msgbox(1))",
      "[x](/relative/path)",
      "[x](//evil.example/x)",
      "[x](https:/evil.example)",
    ]) {
      expect(links(parseBody(hostile)), hostile).toEqual([]);
      expect(shown(line(hostile)), hostile).toBe(hostile);
    }
  });

  it("never links javascript:, data: or HTML written as text", () => {
    for (const hostile of [
      "javascript:alert(1)",
      "data:text/html;base64,PHNjcmlwdD4=",
      '<img src=x onerror=alert(1)>',
      '<a href="javascript:alert(1)">x</a>',
      "httpx://example.com",
      "http://",
      "https:///x",
    ]) {
      const blocks = parseBody(hostile);
      expect(links(blocks), hostile).toEqual([]);
      expect(shown(line(hostile)), hostile).toBe(hostile);
    }
  });

  it("reads @names as the gateway does", () => {
    expect(line("hi @Ann_B.")).toEqual([
      text("hi "),
      { kind: "mention", name: "ann_b", text: "@Ann_B" },
      text("."),
    ]);
    expect(line("ann@example.com")).toEqual([text("ann@example.com")]);
  });

  it("accepts only absolute http(s) URLs as link targets", () => {
    expect(safeHref("https://example.com")).toBe("https://example.com/");
    expect(safeHref("HTTP://Example.com/a")).toBe("http://example.com/a");
    expect(safeHref("javascript:alert(1)")).toBeNull();
    expect(safeHref("//example.com")).toBeNull();
    expect(safeHref("https://")).toBeNull();
  });
});

describe("parseBody's work", () => {
  // Hostile shapes of 4,000 characters: nested, unbalanced, and half-made links and spans.
  const shapes: Record<string, (n: number) => string> = {
    "unclosed bold": (n) => "**a ".repeat(n / 4),
    "unclosed italic": (n) => "*a _b ".repeat(n / 6),
    nested: (n) => "**a *b _c ".repeat(Math.ceil(n / 19)) + "c_ b* a**".repeat(Math.ceil(n / 19)),
    "half links": (n) => "[a](x".repeat(n / 5),
    "open brackets": (n) => "[".repeat(n),
    "link without target": (n) => "[a]".repeat(n / 3),
    backticks: (n) => "`a".repeat(n / 2 - 1) + "``",
    "backtick runs": (n) => "``a`".repeat(n / 4),
    "url punctuation": (n) => `https://e.example/${")".repeat(n - 20)}`,
    "url starts": (n) => "https://".repeat(n / 8),
    names: (n) => "@a.".repeat(n / 3),
    fences: (n) => "```\n".repeat(n / 4),
    "one long line of stars": (n) => "*".repeat(n),
    underscores: (n) => "_a_ b_".repeat(n / 6),
  };

  for (const [name, make] of Object.entries(shapes)) {
    it(`grows linearly for ${name}`, () => {
      const measure = (n: number) => {
        const meter: StepMeter = { steps: 0 };
        const body = make(n);
        parseBody(body, meter);
        return { steps: meter.steps, length: body.length };
      };
      const small = measure(4000);
      const large = measure(16000);
      expect(small.length).toBeGreaterThan(3900);
      // A handful of steps per character, and four times the text costs about four times the work.
      expect(small.steps).toBeLessThan(20 * small.length);
      expect(large.steps / small.steps).toBeLessThan(4.5);
    });
  }
});
