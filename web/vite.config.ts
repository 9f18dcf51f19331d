import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// In production nginx serves the app under the same origin as the API and the WebSocket. The
// dev server (`npm run dev`) forwards those paths to the local balancer instead, presenting the
// balancer's own origin, which is the one the gateways and the auth service allow.
const BALANCER = "https://localhost:8443";
const forward = { target: BALANCER, secure: false, headers: { origin: BALANCER } };

export default defineConfig({
  plugins: [react()],
  build: {
    target: "es2022",
    sourcemap: true,
    // Inlined assets would need data: URLs in the Content-Security-Policy.
    assetsInlineLimit: 0,
  },
  server: {
    proxy: {
      "/auth": forward,
      "/v1": forward,
      "/ws": { ...forward, ws: true },
    },
  },
  test: {
    projects: [
      // The client's logic, without a DOM. Type-level tests (*.test-d.ts) are compiled by tsc
      // and fail the run on a type error.
      {
        extends: true,
        test: {
          name: "core",
          environment: "node",
          include: ["src/**/*.test.ts"],
          typecheck: { enabled: true, include: ["src/**/*.test-d.ts"] },
        },
      },
      // Components, rendered with Testing Library into jsdom.
      {
        extends: true,
        test: {
          name: "ui",
          environment: "jsdom",
          include: ["src/**/*.test.tsx"],
          setupFiles: ["src/test/dom.ts"],
          // The style sheet as text (`?raw`), for tests of what it hides on small screens.
          css: { include: [/styles\.css/] },
          // Rendering and typing into jsdom takes seconds on a busy machine; the limit only
          // catches a test that hangs.
          testTimeout: 20_000,
        },
      },
    ],
  },
});
