import { defineConfig } from "vite";

// The production bundle is index.html only (both windows load it; the popup uses
// index.html#incoming). preview.html and src/preview.ts are a dev-only harness served by
// `npm run dev` and never built.
export default defineConfig({
  base: "./",
  clearScreen: false,
  server: { port: 5173, strictPort: true, host: "127.0.0.1" },
  envPrefix: ["VITE_", "TAURI_ENV_"],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // Tauri 2 webviews: WebView2 (Chromium) on Windows, WKWebView on macOS.
    target: ["es2020", "chrome105", "safari14"],
    rollupOptions: { input: "index.html" },
  },
});
