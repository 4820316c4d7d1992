# azkarpenter: Karpenter-style node autoprovisioning for Kubernetes on Azure.
#
#   make run    build what is missing, start the local cluster, show it working
#   make test   everything CI runs: tools, generated-file check, lint (vet included), tests
#   make check  the inner loop: lint of the changed packages, unit and envtest suites

SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

BIN := $(CURDIR)/bin
export KUBEBUILDER_ASSETS := $(BIN)
# Tests that start processes (envtest, the local cluster) find them here.
export PATH := $(BIN):$(PATH)

GO_TEST_FLAGS ?=
# -race costs little for this code base and finds real bugs in controllers and
# the simulator; the race build of the dependencies is cached after one run.
RACE ?= -race

.PHONY: help
help: ## Show the targets
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*##/ {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: tools
tools: ## Build the pinned toolchain into bin/ (etcd, kube-*, kubectl, kubelet, kwok, helm, controller-gen, golangci-lint)
	@hack/build-tools.sh

# What the tests run: every tool but kubectl, which only people use (make run
# prints how); make run builds it when it is missing.
.PHONY: test-tools
test-tools:
	@BUILD_TOOLS_SKIP=kubectl hack/build-tools.sh

.PHONY: generate
generate: ## Regenerate deepcopy code and CRDs
	@hack/build-tools.sh controller-gen
	hack/generate.sh

.PHONY: verify-generate
verify-generate: ## Fail when generated files are stale
	@hack/build-tools.sh controller-gen
	hack/generate.sh --verify

# golangci-lint's govet runs every analyzer go vet runs (and inline), on the
# e2e suites too (build tag e2e in .golangci.yml): make test runs lint only.
.PHONY: vet
vet: ## go vet (including the e2e suites and the image builder's module); make lint runs the same analyzers
	go vet -tags e2e ./...
	cd hack/image && go vet ./...

.PHONY: lint
lint: ## golangci-lint (config in .golangci.yml), go mod tidy check, govulncheck where its database is reachable
	@hack/build-tools.sh golangci-lint
	$(BIN)/golangci-lint run ./...
	cd hack/image && $(BIN)/golangci-lint run ./...
	@hack/verify-mod.sh

.PHONY: build
build: ## Build the project's binaries into bin/
	go build -o $(BIN)/ ./cmd/...

# make image IMAGE=myregistry.azurecr.io/azkarpenter VERSION=v0.1.0 [PLATFORMS=linux/amd64,linux/arm64]
IMAGE ?= ghcr.io/azkarpenter/azkarpenter
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
PLATFORMS ?= linux/amd64,linux/arm64
CONTAINER_ENGINE ?= $(shell command -v docker 2>/dev/null || command -v podman 2>/dev/null)

.PHONY: image
image: ## Build the controller image from Go alone (no Docker): multi-arch OCI layout bin/image and bin/image.tar, digest printed: IMAGE=… VERSION=… PLATFORMS=…
	cd hack/image && go run . --repo-root $(CURDIR) --out $(BIN)/image --platforms $(PLATFORMS) --ref $(IMAGE):$(VERSION) --version $(VERSION)

.PHONY: image-docker
image-docker: ## Build the controller image with the Dockerfile instead (needs docker or podman)
	@if [ -z "$(CONTAINER_ENGINE)" ]; then echo "make image-docker needs a container engine: install docker or podman, or use make image" >&2; exit 1; fi
	$(CONTAINER_ENGINE) build --platform $(PLATFORMS) --build-arg VERSION=$(VERSION) -t $(IMAGE):$(VERSION) .

.PHONY: unit
unit: test-tools ## Run the Go tests (unit, envtest and simulator suites)
	go test $(RACE) $(GO_TEST_FLAGS) ./...
	cd hack/image && go test $(GO_TEST_FLAGS) ./...

.PHONY: check
check: ## The inner loop (minutes, warm): lint the packages changed since main, then the unit and envtest suites (go's test cache skips what did not change)
	@BUILD_TOOLS_SKIP=kubectl hack/build-tools.sh golangci-lint etcd kubernetes helm kwok
	@pkgs=$$(hack/changed-packages.sh); if [ -n "$$pkgs" ]; then echo "lint: $$pkgs"; $(BIN)/golangci-lint run $$pkgs; else echo "lint: no Go package changed since main"; fi
	go test $(GO_TEST_FLAGS) ./...

# make deflake PKG=./pkg/cloudprovider/ N=20 runs one package N times in a row,
# each run in a new random spec order (Ginkgo prints the seed), and stops at
# the first failure. DEFLAKE_FLAGS reach go test, e.g. for an e2e suite:
# DEFLAKE_FLAGS='-tags e2e -ginkgo.focus=subnet -ginkgo.v'.
N ?= 10
PKG ?=
DEFLAKE_FLAGS ?=

.PHONY: deflake
deflake: ## Repeat one test package N times, stop at the first failure: make deflake PKG=./pkg/cloudprovider/ N=20
	@if [ -z "$(PKG)" ]; then echo "deflake: name the package, e.g. make deflake PKG=./pkg/cloudprovider/ N=20" >&2; exit 2; fi
	@for i in $$(seq $(N)); do \
		echo "deflake: run $$i of $(N): go test -count 1 $(RACE) $(DEFLAKE_FLAGS) $(PKG)"; \
		go test -count 1 $(RACE) $(DEFLAKE_FLAGS) $(PKG) || { echo "deflake: run $$i of $(N) failed" >&2; exit 1; }; \
	done; echo "deflake: all $(N) runs passed"

# E2E_FLAGS reach `go test` of the e2e suites, e.g. E2E_FLAGS='-ginkgo.focus=fidelity'.
E2E_FLAGS ?=
# E2E_PARALLEL suites run at once, each on its own local cluster (own state
# directory and ports). The suites mostly wait on simulated VMs: on a 2-core
# machine 4 at a time take the fast subset from about 22 to 7 minutes, each
# suite within 10% of its time alone (docs/e2e.md). E2E_PARALLEL=1 runs them
# one after another, as when reading one suite's output.
E2E_PARALLEL ?= 4

.PHONY: e2e
e2e: test-tools build ## Run every e2e suite (test/e2e) on local clusters, then the make-run demo
	go test -tags e2e -p $(E2E_PARALLEL) -timeout 80m -count 1 $(E2E_FLAGS) ./test/e2e/... -ginkgo.v
	$(MAKE) demo

.PHONY: e2e-fast
e2e-fast: test-tools build ## Run the e2e specs labelled fast (the subset make test runs)
	go test -tags e2e -p $(E2E_PARALLEL) -timeout 40m -count 1 $(E2E_FLAGS) ./test/e2e/... -ginkgo.label-filter=fast -ginkgo.v

# Karpenter core's regression suites (sigs.k8s.io/karpenter/test/suites/regression
# at the pinned version, compiled from the module cache through the
# hack/coretests wrapper module) against azkarpenter on a local cluster, with
# test/coreregression/testdata's AKSNodeClass and NodePools (CapacityBuffer's
# specs in a pass of their own). Not part of `make test`: the whole set takes
# hours (docs/e2e.md). CORE_FOCUS and CORE_SKIP are ginkgo regular
# expressions, CORE_TIMEOUT the whole run's budget;
# the per-spec report lands in .e2e/core-report/results.md.
.PHONY: e2e-core
e2e-core: test-tools build ## Run karpenter core's regression suites against azkarpenter on a local cluster (hours; CORE_FOCUS=Termination runs some)
	cd hack/coretests && go test -c -o $(BIN)/core-regression.test sigs.k8s.io/karpenter/test/suites/regression
	CORE_FOCUS='$(CORE_FOCUS)' CORE_SKIP='$(CORE_SKIP)' CORE_TIMEOUT='$(CORE_TIMEOUT)' \
		go test -v -tags e2e -timeout 0 -count 1 ./test/coreregression/...

# The real-kubelet spec (test/e2e/realkubelet) runs a kubelet built from the
# pinned Kubernetes module against Debian's container runtime. Installing
# packages needs root and apt-get; without them the spec skips, naming what
# is missing.
KUBELET_DEPS := containerd runc containernetworking-plugins

.PHONY: kubelet-deps
kubelet-deps: ## Install what a real kubelet runs on (Debian: containerd, runc, containernetworking-plugins), when missing
	@missing=$$(for p in $(KUBELET_DEPS); do dpkg-query -W -f='$${db:Status-Status}' $$p 2>/dev/null | grep -qx installed || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
		echo "kubelet-deps: missing $$missing; install them as root with apt-get (Debian/Ubuntu)" >&2; exit 1; fi; \
	echo "kubelet-deps: installing $$missing" >&2; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing || \
	{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; }

.PHONY: e2e-kubelet
e2e-kubelet: test-tools build kubelet-deps ## Run the real-kubelet e2e specs: a kubelet v1.35 joins from a rendered artifact (realkubelet); the chart's pod runs from the built image on a real node (realnode)
	go test -v -tags e2e -p 1 -timeout 30m -count 1 $(E2E_FLAGS) ./test/e2e/realkubelet ./test/e2e/helmpod/... -ginkgo.label-filter='realkubelet || realnode' -ginkgo.v

# make test's end-to-end phase: the fast subset and, where the machine
# allows, the real-kubelet specs in one run of E2E_PARALLEL suites at once
# (kubelet-deps installs their packages when root with apt-get; otherwise
# they skip, naming what is missing, rather than fail the run),
# with the demo beside it (its own cluster and state directory). Each part
# waits mostly on simulated or real nodes, not on the CPU, so together they
# take about as long as the longest suite rather than their sum. Output is
# printed per part as it ends (--output-sync).
.PHONY: e2e-ci
e2e-ci: test-tools build
	-@$(MAKE) --no-print-directory kubelet-deps
	@$(MAKE) --no-print-directory -j2 --output-sync=target e2e-ci-suites demo

.PHONY: e2e-ci-suites
e2e-ci-suites:
	go test -tags e2e -p $(E2E_PARALLEL) -timeout 40m -count 1 $(E2E_FLAGS) ./test/e2e/... -ginkgo.label-filter='fast || realkubelet || realnode' -ginkgo.v

.PHONY: demo
demo: build ## Run the make-run demo non-interactively (azuresim 50x faster than Azure) and fail unless it provisions and consolidates
	$(BIN)/azkarpenter up --exit-when-done --sim-time-scale 0.02 --timeout 8m --state-dir .local-e2e

# SCENARIO=web (or web,batch) runs only those scenarios; BENCH_FLAGS reach the
# harness, e.g. BENCH_FLAGS='--latency 0 --no-reference'.
SCENARIO ?=
BENCH_FLAGS ?=

.PHONY: bench
bench: tools build ## Run the benchmark scenarios on local clusters (SCENARIO=web runs one); results under test/bench/results/
	go run ./test/bench $(if $(SCENARIO),--scenario $(SCENARIO)) $(BENCH_FLAGS)

.PHONY: bench-compare
bench-compare: ## Set two benchmark result sets side by side: make bench-compare BEFORE=dir AFTER=dir
	go run ./test/bench compare $(BEFORE) $(AFTER)

# COUNT=6 and benchstat give statistically meaningful comparisons.
COUNT ?= 1

.PHONY: bench-go
bench-go: ## Go benchmarks of the hot paths: core's scheduler on core's and our catalog, GetInstanceTypes, offering choice, bootstrap, prices
	go test -run '^$$' -bench . -benchmem -count $(COUNT) -timeout 60m ./pkg/plan/ ./pkg/providers/instancetype/ ./pkg/providers/instance/ ./pkg/providers/launchtemplate/ ./pkg/providers/pricing/

# make test runs its phases one after another and prints the time of each.
TEST_PHASES := test-tools verify-generate lint unit e2e-ci

.PHONY: test
test: ## Everything CI runs, phase by phase with their times
	@hack/phases.sh $(TEST_PHASES)

.PHONY: run
run: tools build ## Start the local cluster and show a workload being provisioned (Ctrl-C stops everything)
	$(BIN)/azkarpenter up

.PHONY: down
down: ## Stop a local cluster left running by a killed `make run`
	$(BIN)/azkarpenter down

.PHONY: clean
clean: ## Remove local cluster state (keeps bin/)
	rm -rf .local .local-e2e
