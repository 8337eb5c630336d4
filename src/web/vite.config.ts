/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The build lands where the backend finds it as the Python resources `todo_web` (see
// src/web/BUILD); file names carry a content hash, so the backend caches them for good.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist/todo_web",
    emptyOutDir: true,
    assetsDir: "assets",
    // No inline script anywhere: the page's CSP allows scripts from the origin only.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    target: "es2022",
  },
  server: {
    proxy: { "/api": { target: "http://127.0.0.1:8000", ws: false } },
  },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    restoreMocks: true,
    // The build machines are shared: generous, so that load never fails a test.
    testTimeout: 30_000,
  },
});
