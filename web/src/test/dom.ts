// Set-up for component tests under jsdom: Testing Library's matchers, a clean page after every
// test, and the few browser functions jsdom lacks (it does no layout), behaving as on a page
// narrower than the breakpoints.

import "@testing-library/jest-dom/vitest";
import { cleanup } from "@testing-library/react";
import { afterEach } from "vitest";

afterEach(() => {
  cleanup();
});

if (window.matchMedia === undefined) {
  window.matchMedia = (query: string): MediaQueryList =>
    ({
      matches: false,
      media: query,
      onchange: null,
      addEventListener: () => undefined,
      removeEventListener: () => undefined,
      addListener: () => undefined,
      removeListener: () => undefined,
      dispatchEvent: () => false,
    }) as MediaQueryList;
}

if (Element.prototype.scrollTo === undefined) {
  Element.prototype.scrollTo = function scrollTo(this: Element, options?: ScrollToOptions | number): void {
    if (typeof options === "object" && options.top !== undefined) this.scrollTop = options.top;
  } as Element["scrollTo"];
}

// jsdom lays nothing out: every element measures 0 px. A scroll view of some height lets the
// virtualized message list decide which rows are in view (all of them, at 0 px each).
for (const [name, px] of [
  ["clientHeight", 600],
  ["clientWidth", 800],
] as const) {
  Object.defineProperty(HTMLElement.prototype, name, { configurable: true, get: () => px });
}
