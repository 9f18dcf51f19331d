// A message body drawn from its markdown-lite tree (core/markup.ts) with React elements only:
// every piece of the text is a text node, so nothing a message says becomes HTML.

import { Fragment, type ReactNode, useMemo } from "react";
import type { UserRef } from "../../core/protocol";
import { type Inline, parseBody } from "../../core/markup";

export function MessageText({
  body,
  me,
  mentions,
}: {
  body: string;
  me?: UserRef;
  mentions?: readonly string[];
}) {
  const blocks = useMemo(() => parseBody(body), [body]);
  // "@name" is highlighted when it names the reader and the gateway found them named.
  const myName = me !== undefined && mentions?.includes(me.id) ? me.name.toLowerCase() : null;
  return blocks.map((block, b) =>
    block.kind === "code" ? (
      <pre key={b} className="msg-code-block" dir="ltr">
        <code>{block.text}</code>
      </pre>
    ) : (
      <Fragment key={b}>
        {joinText(block.lines.flatMap((line, l) => [...(l > 0 ? ["\n"] : []), ...inlines(line, myName, `${l}`)]))}
      </Fragment>
    ),
  );
}

// Neighbouring strings as one: unformatted text, over as many lines as it runs, is one text node.
function joinText(nodes: readonly ReactNode[]): ReactNode[] {
  const joined: ReactNode[] = [];
  for (const node of nodes) {
    const last = joined[joined.length - 1];
    if (typeof node === "string" && typeof last === "string") joined[joined.length - 1] = last + node;
    else joined.push(node);
  }
  return joined;
}

// Keys are the node's path in the tree, so they stay unique when lines are laid side by side.
function inlines(nodes: readonly Inline[], myName: string | null, path: string): ReactNode[] {
  return nodes.map((node, n) => {
    const i = `${path}.${n}`;
    switch (node.kind) {
      case "text":
        return node.text;
      case "bold":
        return <strong key={i}>{inlines(node.children, myName, i)}</strong>;
      case "italic":
        return <em key={i}>{inlines(node.children, myName, i)}</em>;
      case "code":
        return (
          <code key={i} className="msg-code">
            {node.text}
          </code>
        );
      case "link":
        return (
          <a key={i} href={node.href} target="_blank" rel="noopener noreferrer">
            {node.text}
          </a>
        );
      case "mention":
        return node.name === myName ? (
          <mark key={i} className="mention-me" data-testid="mention-me">
            {node.text}
          </mark>
        ) : (
          node.text
        );
    }
  });
}
