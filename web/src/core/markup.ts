// Markdown-lite: what a message body's formatting means, as a small tree for the UI to draw with
// elements of its own. Nothing here makes HTML; text stays text, whatever it says.
//
// A body is lines, kept as written (blank lines included), and fenced code blocks (a line that
// starts with ``` up to a line that is only ```; unclosed, the fence is text). Within one line:
// **bold**, *italic* and _italic_, `code` (or ``code`` to hold a `), [text](url) and bare http(s) URLs, and @names.
// Markers never span lines, and a marker without its partner stays text.
//
// The work is linear in the body's length whatever it holds: a line is first cut into tokens by
// one left-to-right scan (code spans, links, URLs and names are whole tokens, so nothing inside
// them is a marker), then each opening marker finds its nearest closing partner through an index
// built once from the right, and the content between is read once, by the innermost level only.

export type Inline =
  | { kind: "text"; text: string }
  | { kind: "bold"; children: Inline[] }
  | { kind: "italic"; children: Inline[] }
  | { kind: "code"; text: string }
  | { kind: "link"; href: string; text: string }
  | { kind: "mention"; name: string; text: string };

export type Block = { kind: "lines"; lines: Inline[][] } | { kind: "code"; text: string };

// Counts the parser's steps, so that tests can show the work grows linearly without timing it.
export interface StepMeter {
  steps: number;
}

const FENCE = "```";

export function parseBody(body: string, meter: StepMeter = { steps: 0 }): Block[] {
  const lines = body.split("\n");
  // closingAt[i]: the first line at or after i that can close a fence (only ```), else -1.
  const closingAt = new Array<number>(lines.length + 1).fill(-1);
  for (let i = lines.length - 1; i >= 0; i -= 1) {
    meter.steps += 1;
    closingAt[i] = lines[i]?.trim() === FENCE ? i : (closingAt[i + 1] ?? -1);
  }
  const blocks: Block[] = [];
  let plain: Inline[][] = [];
  const endPlain = () => {
    if (plain.length > 0) blocks.push({ kind: "lines", lines: plain });
    plain = [];
  };
  let i = 0;
  while (i < lines.length) {
    meter.steps += 1;
    const line = lines[i] ?? "";
    // An opening fence is ``` and at most a language's name, never more backticks: "```x```"
    // is a line of text, not a block that would swallow what follows it.
    const opens = line.startsWith(FENCE) && !line.slice(FENCE.length).includes("`");
    const close = opens ? (closingAt[i + 1] ?? -1) : -1;
    if (close > i) {
      endPlain();
      blocks.push({ kind: "code", text: lines.slice(i + 1, close).join("\n") });
      i = close + 1;
    } else {
      plain.push(parseLine(line, meter));
      i += 1;
    }
  }
  endPlain();
  return blocks;
}

// A link's target: only absolute http and https URLs with a host; anything else (javascript:,
// data:, vbscript:, relative, protocol-relative) is no link.
export function safeHref(raw: string): string | null {
  if (!/^https?:\/\/[^/]/i.test(raw)) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "") return null;
  return url.href;
}

type MarkKind = "**" | "*" | "_";
type Token =
  | { t: "text"; text: string }
  | { t: "node"; node: Inline }
  | { t: "mark"; kind: MarkKind; open: boolean; close: boolean };

const WORD = /[\p{L}\p{N}_]/u;
const SPACE = /\s/u;
const NAME_CHAR = /[A-Za-z0-9_.-]/;
const URL_END = /[\s<>"[\]]/u;
// Punctuation that ends a sentence rather than the URL written before it.
const URL_TRAILING = /[.,;:!?'")]/;

function isWord(ch: string | undefined): boolean {
  return ch !== undefined && WORD.test(ch);
}

function isSpace(ch: string | undefined): boolean {
  return ch === undefined || SPACE.test(ch);
}

function parseLine(line: string, meter: StepMeter): Inline[] {
  const tokens = tokenize(line, meter);
  // nextClose[kind][k]: the first token at or after k that can close `kind`, else tokens.length.
  const nextClose = new Map<MarkKind, Int32Array>();
  for (const kind of ["**", "*", "_"] as const) {
    const next = new Int32Array(tokens.length + 1).fill(tokens.length);
    for (let k = tokens.length - 1; k >= 0; k -= 1) {
      meter.steps += 1;
      const token = tokens[k];
      next[k] = token?.t === "mark" && token.kind === kind && token.close ? k : (next[k + 1] ?? tokens.length);
    }
    nextClose.set(kind, next);
  }
  return build(tokens, 0, tokens.length, nextClose, meter);
}

function build(
  tokens: Token[],
  from: number,
  to: number,
  nextClose: Map<MarkKind, Int32Array>,
  meter: StepMeter,
): Inline[] {
  const out: Inline[] = [];
  const text = (value: string) => {
    const last = out[out.length - 1];
    if (last?.kind === "text") last.text += value;
    else out.push({ kind: "text", text: value });
  };
  let k = from;
  while (k < to) {
    meter.steps += 1;
    const token = tokens[k];
    if (token === undefined) break;
    if (token.t === "text") text(token.text);
    else if (token.t === "node") out.push(token.node);
    else {
      const close = token.open ? (nextClose.get(token.kind)?.[k + 1] ?? to) : to;
      if (close < to && close > k + 1) {
        const children = build(tokens, k + 1, close, nextClose, meter);
        out.push({ kind: token.kind === "**" ? "bold" : "italic", children });
        k = close;
      } else {
        text(token.kind);
      }
    }
    k += 1;
  }
  return out;
}

function tokenize(line: string, meter: StepMeter): Token[] {
  const tokens: Token[] = [];
  // A code span is a run of backticks up to the next run of as many (``a ` b``); each length's
  // runs, in order, with a cursor that only moves forward as the scan does.
  const runs = new Map<number, { starts: number[]; next: number }>();
  for (let p = 0; p < line.length; ) {
    meter.steps += 1;
    if (line[p] !== "`") {
      p += 1;
      continue;
    }
    let end = p;
    while (line[end] === "`") {
      meter.steps += 1;
      end += 1;
    }
    const same = runs.get(end - p) ?? { starts: [], next: 0 };
    same.starts.push(p);
    runs.set(end - p, same);
    p = end;
  }
  let text = "";
  const flush = () => {
    if (text !== "") tokens.push({ t: "text", text });
    text = "";
  };
  const push = (token: Token) => {
    flush();
    tokens.push(token);
  };
  let p = 0;
  while (p < line.length) {
    meter.steps += 1;
    const ch = line[p] ?? "";
    const before = line[p - 1];
    if (ch === "`") {
      let end = p;
      while (line[end] === "`") end += 1;
      const same = runs.get(end - p);
      let close = -1;
      if (same !== undefined) {
        while (same.next < same.starts.length && (same.starts[same.next] ?? 0) <= p) {
          meter.steps += 1;
          same.next += 1;
        }
        close = same.starts[same.next] ?? -1;
      }
      if (close > end) {
        push({ t: "node", node: { kind: "code", text: line.slice(end, close) } });
        p = close + (end - p);
      } else {
        text += line.slice(p, end);
        p = end;
      }
      continue;
    } else if (ch === "[") {
      const link = linkAt(line, p, meter);
      if (link !== null) {
        push({ t: "node", node: link.node });
        p = link.end;
        continue;
      }
    } else if ((ch === "h" || ch === "H") && !isWord(before)) {
      const url = urlAt(line, p, meter);
      if (url !== null) {
        push({ t: "node", node: url.node });
        p = url.end;
        continue;
      }
    } else if (ch === "@" && !isWord(before) && before !== "." && before !== "-" && before !== "@") {
      let end = p + 1;
      while (end < line.length && NAME_CHAR.test(line[end] ?? "")) {
        meter.steps += 1;
        end += 1;
      }
      // A run ending in "." or "-" ("thanks @ann.") names the person without them.
      while (end > p + 1 && (line[end - 1] === "." || line[end - 1] === "-")) end -= 1;
      if (end > p + 1) {
        const written = line.slice(p, end);
        push({ t: "node", node: { kind: "mention", name: written.slice(1).toLowerCase(), text: written } });
        p = end;
        continue;
      }
    } else if (ch === "*" || ch === "_") {
      let end = p;
      while (line[end] === ch) {
        meter.steps += 1;
        end += 1;
      }
      const run = end - p;
      const after = line[end];
      if (ch === "*" && run <= 2) {
        const kind = run === 2 ? "**" : "*";
        push({ t: "mark", kind, open: !isSpace(after), close: !isSpace(before) });
        p = end;
        continue;
      }
      if (ch === "_" && run === 1) {
        // Inside a word (snake_case) an underscore is only a character.
        push({
          t: "mark",
          kind: "_",
          open: !isSpace(after) && !isWord(before),
          close: !isSpace(before) && !isWord(after),
        });
        p = end;
        continue;
      }
      text += line.slice(p, end);
      p = end;
      continue;
    }
    text += ch;
    p += 1;
  }
  flush();
  return tokens;
}

// [text](url): the text holds no brackets and the URL no spaces or brackets, so a failed attempt
// scans only up to the next bracket and no character is scanned by more than one attempt.
function linkAt(line: string, start: number, meter: StepMeter): { node: Inline; end: number } | null {
  let p = start + 1;
  while (p < line.length && line[p] !== "]" && line[p] !== "[") {
    meter.steps += 1;
    p += 1;
  }
  if (line[p] !== "]" || p === start + 1 || line[p + 1] !== "(") return null;
  const label = line.slice(start + 1, p);
  const urlStart = p + 2;
  let depth = 0;
  p = urlStart;
  while (p < line.length && !URL_END.test(line[p] ?? "")) {
    meter.steps += 1;
    if (line[p] === "(") depth += 1;
    else if (line[p] === ")") {
      if (depth === 0) break;
      depth -= 1;
    }
    p += 1;
  }
  if (line[p] !== ")") return null;
  const href = safeHref(line.slice(urlStart, p));
  if (href === null) return null;
  return { node: { kind: "link", href, text: label }, end: p + 1 };
}

function urlAt(line: string, start: number, meter: StepMeter): { node: Inline; end: number } | null {
  const head = line.slice(start, start + 8).toLowerCase();
  if (!head.startsWith("http://") && !head.startsWith("https://")) return null;
  let end = start;
  while (end < line.length && !URL_END.test(line[end] ?? "")) {
    meter.steps += 1;
    end += 1;
  }
  // Trailing punctuation belongs to the sentence; a ")" stays when it closes a "(" in the URL.
  let balance = 0;
  for (let q = start; q < end; q += 1) {
    meter.steps += 1;
    if (line[q] === "(") balance += 1;
    else if (line[q] === ")") balance -= 1;
  }
  while (end > start && URL_TRAILING.test(line[end - 1] ?? "")) {
    meter.steps += 1;
    if (line[end - 1] === ")") {
      if (balance + 1 > 0) break;
      balance += 1;
    }
    end -= 1;
  }
  const raw = line.slice(start, end);
  const href = safeHref(raw);
  if (href === null) return null;
  return { node: { kind: "link", href, text: raw }, end };
}
