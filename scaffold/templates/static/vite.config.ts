import { defineConfig } from "vite";

// Vite compiles TSX itself (automatic JSX runtime); no plugin is needed.
export default defineConfig({
  build: {
    target: "es2022",
  },
});
