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

/**
 * validateStub replaces the generated descriptor of buf/validate (the
 * protovalidate rules, ~70 KB, ~12 KB gzipped) with an empty file of the
 * same name. The generated stich.v1 files import it only because their
 * fields carry validation options, which the browser never evaluates (the
 * server validates every request); an option whose extension is not
 * loaded stays an unknown field. The first load stays within its budget
 * (scripts/size-budget.mjs) this way.
 */
function validateStub(): Plugin {
  const name = "buf/validate/validate.proto";
  // A FileDescriptorProto with only field 1 (name) and 2 (package).
  const pkg = "buf.validate";
  const desc = Buffer.concat([Buffer.from([0x0a, name.length]), Buffer.from(name), Buffer.from([0x12, pkg.length]), Buffer.from(pkg)]).toString("base64");
  return {
    name: "stich-validate-stub",
    enforce: "pre",
    load(id) {
      if (!id.replaceAll("\\", "/").endsWith("/src/gen/buf/validate/validate_pb.ts")) return null;
      return `import { fileDesc } from "@bufbuild/protobuf/codegenv2";\nexport const file_buf_validate_validate = fileDesc(${JSON.stringify(desc)});\n`;
    },
  };
}

const outDir = join(import.meta.dirname, "dist");

export default defineConfig({
  plugins: [validateStub(), react(), cleanDistKeepPlaceholder(outDir)],
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
