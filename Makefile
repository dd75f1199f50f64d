# stich — make help lists the targets.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GO      ?= go
BUF     := web/node_modules/.bin/buf
BIN     := bin/stich
LDFLAGS := -X main.version=$(VERSION)

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

web/node_modules/.stamp: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

.PHONY: tools
tools: web/node_modules/.stamp ## Install pinned code generators (buf from npm; Go plugins via tools/go.mod)

# The browser UI (web/): Vite builds it into web/dist, which web/embed.go
# embeds into bin/stich. Rebuilt only when its sources change.
WEB_SRC  := $(shell find web/src web/index.html web/vite.config.ts web/tsconfig.json -type f 2>/dev/null)
CHROMIUM ?= /usr/bin/chromium

web/dist/index.html: web/node_modules/.stamp $(WEB_SRC)
	cd web && npm run build

.PHONY: web
web: web/dist/index.html ## Build the browser UI into web/dist (embedded by the next Go build)

.PHONY: web-test
web-test: web ## Web UI: unit tests (vitest) and end-to-end tests in Chromium against a real stich serve
	@if [ ! -x $(CHROMIUM) ]; then echo "installing chromium (Debian package)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi
	cd web && npm run test:unit
	cd web && npm run test:size
	cd web && CHROMIUM=$(CHROMIUM) npm run test:e2e

.PHONY: generate
generate: tools ## Regenerate protobuf and Connect code from proto/
	$(BUF) generate
	$(BUF) lint

.PHONY: check-generated
check-generated: generate ## Fail if committed generated code is stale
	@if [ -n "$$(git status --porcelain -- proto web/src/gen)" ]; then \
		echo "generated code in proto/ or web/src/gen/ is stale or uncommitted: run 'make generate' and commit"; \
		git status --porcelain -- proto web/src/gen; exit 1; fi

.PHONY: build
build: web ## Build bin/stich (with the web UI)
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/stich

.PHONY: run
run: run-deps web build ## Build (web UI included) and serve on 127.0.0.1:8080 with embedded defaults (data in ./stich-data), builds and previews on; RUN_FLAGS="--http 127.0.0.1:9080 --preview-http 127.0.0.1:9081" for other ports
	$(BIN) serve $(RUN_FLAGS)

# What `make run` needs for builds and previews: bubblewrap isolates the
# generated apps' installs and type-checks. Installed when missing (as
# root, or with sudo when it needs no password); otherwise stop and say
# the exact command, rather than start a node with builds off.
.PHONY: run-deps
run-deps: ## Install bubblewrap (app builds and previews) when missing, or print the command to run
	@if ! command -v bwrap >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then sudo=""; \
		elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo=sudo; \
		else echo "make run: app builds and previews need bubblewrap. Install it with:"; \
			echo "    sudo apt-get install -y bubblewrap"; \
			echo "then run 'make run' again."; exit 1; fi; \
		echo "installing bubblewrap (app builds and previews run inside it)"; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq bubblewrap >/dev/null || { \
			echo "make run: installing bubblewrap failed; run: sudo apt-get install -y bubblewrap"; exit 1; }; \
	fi

.PHONY: lint
lint: tools ## gofmt, go vet and buf lint
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$\|\.connect\.go$$')); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(BUF) lint

# Debian packages the tests use: bubblewrap (sandbox isolation) and chromium
# (preview and UI tests). Installed only when missing; needs root or sudo.
SYSTEM_PACKAGES := bubblewrap chromium

.PHONY: system-deps
system-deps: ## Install the Debian packages the tests need (bubblewrap, chromium) when missing
	@missing=""; \
	command -v bwrap >/dev/null 2>&1 || missing="$$missing bubblewrap"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing >/dev/null; \
	fi

.PHONY: test
test: system-deps check-generated lint web ## Everything CI checks: generated code, lint, all Go tests with -race, app builds
	$(GO) test -race -count=1 -timeout 25m ./...
	$(GO) test -count=1 -timeout 15m -tags npmbuild -run 'NPM' ./scaffold/...
	$(MAKE) web-test

.PHONY: bench
bench: ## Benchmarks, printed as ratios against references measured in the same run
	$(GO) test -timeout 60m -run '^$$' -bench . -benchtime 1s -count 5 ./bench/ ./actors/ ./rpc/ ./cluster/ | tee bench.out
	$(GO) test -run '^$$' -bench . -benchtime 1s -count 1 ./llm/ ./editformat/ ./preview/ ./fixer/ ./appbuild/ ./sandbox/ | tee -a bench.out
	$(GO) test -tags scale -timeout 60m -run '^$$' -bench BenchmarkSessionScale -benchtime 1x -count 1 ./actors/ | tee -a bench.out
	$(GO) run ./internal/benchratio < bench.out

.PHONY: clean
clean: ## Remove build output
	rm -rf bin bench.out web/dist/assets web/dist/index.html
