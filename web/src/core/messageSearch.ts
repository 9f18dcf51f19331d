// Finding messages by their words (`GET /v1/search`, docs/protocol.md "Search"): the hits as the
// gateway gives them, and the parts of an excerpt to highlight. The excerpt is plain text and
// stays text: the matches only say which runs of it to mark.

import type { ChatMessage } from "./protocol";

export interface SearchHit {
  message: ChatMessage;
  excerpt: { text: string; matches: [number, number][] };
}

export interface SearchPage {
  hits: SearchHit[];
  /** Given back as `before` for the next page; null after the last. */
  next: string | null;
}

// The gateway's bound on a query (after trimming spaces).
export const MAX_QUERY_CHARS = 200;

export interface ExcerptPart {
  text: string;
  match: boolean;
}

/**
 * The excerpt cut into runs, each a match or not. `matches` are `[start, length]` in Unicode code
 * points (not UTF-16 units); overlapping or out-of-range ones are clipped, never trusted.
 */
export function excerptParts(text: string, matches: readonly (readonly [number, number])[]): ExcerptPart[] {
  const points = Array.from(text);
  const parts: ExcerptPart[] = [];
  let at = 0;
  const sorted = [...matches].filter((m) => Number.isInteger(m[0]) && Number.isInteger(m[1])).sort((a, b) => a[0] - b[0]);
  for (const [start, length] of sorted) {
    const from = Math.max(at, Math.min(start, points.length));
    const to = Math.min(points.length, start + Math.max(0, length));
    if (to <= from) continue;
    if (from > at) parts.push({ text: points.slice(at, from).join(""), match: false });
    parts.push({ text: points.slice(from, to).join(""), match: true });
    at = to;
  }
  if (at < points.length) parts.push({ text: points.slice(at).join(""), match: false });
  return parts;
}

/** Why a query cannot be asked, or null when it can. */
export function queryProblem(query: string): string | null {
  const trimmed = query.trim();
  if (trimmed === "") return "Type a word to search for.";
  if (Array.from(trimmed).length > MAX_QUERY_CHARS) return `At most ${MAX_QUERY_CHARS} characters.`;
  return null;
}

/** The answer of `GET /v1/search`, read defensively: anything missing is no hit. */
export function searchPage(body: unknown): SearchPage {
  const { hits, next_cursor: next } = (body ?? {}) as { hits?: unknown; next_cursor?: unknown };
  const list = Array.isArray(hits) ? (hits as SearchHit[]) : [];
  return {
    hits: list.filter((hit) => typeof hit?.message?.id === "string" && typeof hit.excerpt?.text === "string"),
    next: typeof next === "string" && next !== "" ? next : null,
  };
}
