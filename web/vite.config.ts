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
    environment: "node",
    include: ["src/**/*.test.ts"],
  },
});
