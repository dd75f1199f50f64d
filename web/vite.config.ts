import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { defineConfig, type Plugin } from "vite";
import react from "@vitejs/plugin-react";

// dist/ is embedded into the stich binary (web/embed.go). Only
// dist/README.md is committed, so that `go build` works on a fresh checkout;
// Vite's emptyOutDir would delete it, so this plugin empties dist/ itself and
// keeps that one file.
function cleanDistKeepPlaceholder(outDir: string): Plugin {
  return {
    name: "stich-clean-dist",
    apply: "build",
    buildStart() {
      let entries: string[] = [];
      try {
        entries = readdirSync(outDir);
      } catch {
        return;
      }
      for (const entry of entries) {
        if (entry !== "README.md") rmSync(join(outDir, entry), { recursive: true, force: true });
      }
    },
  };
}

const outDir = join(import.meta.dirname, "dist");

export default defineConfig({
  plugins: [react(), cleanDistKeepPlaceholder(outDir)],
  build: {
    outDir,
    emptyOutDir: false,
    target: "es2022",
    // Hashed file names under /assets/ get immutable cache headers (rpc/web.go).
    assetsDir: "assets",
    sourcemap: false,
    reportCompressedSize: true,
  },
  server: {
    // `npm run dev` proxies the API to a local `stich serve`.
    proxy: {
      "/stich.v1.": { target: process.env.STICH_URL ?? "http://127.0.0.1:8080", changeOrigin: false },
    },
  },
});
