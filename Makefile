GO ?= go
BIN := bin/paramstore
FUZZTIME ?= 30s
# How long the fuzzer may shrink each new interesting input. Go's default,
# 60s, is spent in full on any []byte or string input of a few hundred
# bytes (its minimizer tries every subrange: quadratic), and new inputs
# come every second early on: a 30s run then did almost nothing but
# minimize (FuzzVerifyTrail: 1 exec/s). A count bounds it whatever the load;
# raise it to shrink a crasher further.
FUZZMINIMIZETIME ?= 500x
# staticcheck, pinned (v0.8.2 supports Go 1.26). `go run pkg@version` builds
# it through the module proxy without touching go.mod, on a clean machine too.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: build run test race vet lint fmt fmt-check fuzz crash cluster-long bench bench-quick bench-agent bench-fleet soak clean

build:
	$(GO) build -o $(BIN) ./cmd/paramstore

# Run the server with an embedded default store in ./paramstore-data.
run: build
	./$(BIN) server

# The test command named in the README (and run by .ci/run): vet, gofmt and
# staticcheck, and every package with the race detector on, end-to-end tests
# with the aws CLI and boto3 included. staticcheck runs alongside the tests,
# which spend most of their time waiting on servers, so it adds no time; its
# findings are printed at the end and fail the target. bench/tools is its
# own module (etcd's client and gonum/plot stay out of the server's go.mod),
# which ./... does not reach: vet and staticcheck visit it explicitly.
test: vet fmt-check
	@lint=$$(mktemp); { $(GO) run $(STATICCHECK) ./... && $(GO) -C bench/tools run $(STATICCHECK) ./...; } >$$lint 2>&1 & pid=$$!; \
	$(GO) test -race -timeout 20m ./...; rc=$$?; \
	if ! wait $$pid; then echo "staticcheck found problems:"; cat $$lint; rc=1; fi; \
	rm -f $$lint; exit $$rc

race:
	$(GO) test -race -count=1 -timeout 20m ./...

vet:
	$(GO) vet ./...
	$(GO) -C bench/tools vet ./...

lint:
	$(GO) run $(STATICCHECK) ./...
	$(GO) -C bench/tools run $(STATICCHECK) ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Each fuzzer for FUZZTIME (go test runs one -fuzz target at a time).
fuzz:
	@for pkg in ./client ./internal/bytesize ./internal/crypto ./internal/ssm ./internal/jsonenc ./internal/events ./internal/api ./internal/service ./internal/sigv4 ./internal/audit ./internal/policy ./internal/fault ./internal/incident ./internal/bundle ./internal/mirror ./internal/store; do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) $$pkg || exit 1; \
		done; \
	done

# The SIGKILL crash tests with more rounds than CI runs: the server's, and
# the agent's (moto_server as the upstream; a table of versions per round).
crash:
	PARAMSTORE_CRASH_ROUNDS=20 $(GO) test -race -count=1 -run Crash -v ./tests/e2e/
	PARAMSTORE_AGENT_CRASH_ROUNDS=20 $(GO) test -count=1 -run TestAgentCrash -v ./tests/agent/ | grep -E 'CRASH|^(---|ok|FAIL)'


# The cluster fault tests (leader kills, partitions, replica convergence) in
# their long form, and the 1-node vs 3-node throughput benchmark.
cluster-long:
	PARAMSTORE_CLUSTER_LONG=1 $(GO) test -count=1 -v -timeout 60m -bench Throughput -benchtime 5s ./tests/cluster/

# The side-by-side benchmark (paramstore, no-op ceiling, moto_server, etcd)
# and the scale runs (1k, 100k, 1M parameters): writes bench/RESULTS.md and
# the charts. Installs wrk and etcd-server (Debian) when missing. About 40
# minutes on 2 cores, most of it loading a million parameters.
bench:
	bash bench/run.sh -d $${BENCH_DURATION:-10s} -scale $${BENCH_SCALE:-1000,100000,1000000}

# The same in a few minutes: short rows, scale runs up to 100k.
bench-quick:
	bash bench/run.sh -d 3s -scale 1000,100000

# The agent's benchmarks: cached reads through an agent while the upstream
# (moto_server) is healthy, blackholed, slow, throttling or failing; and the
# persistent cache's flush cost, load time, file size and RSS at 1k, 10k and
# 100k entries.
bench-agent:
	$(GO) test -run '^$$' -bench BenchmarkBrownout -benchtime 3000x ./tests/agent/
	$(GO) test -run '^$$' -bench BenchmarkPersist -benchtime 50x ./client/

# The fleet benchmark (issue 20): N agents (client.Watch, in worker
# processes) following the change stream of a 1- and a 3-node cluster;
# write latency, fan-out latency, server memory per watcher and CPU per
# change, with and without the fleet. FLEET_N, FLEET_NODES and
# FLEET_DURATION (each phase) bound it; FLEET_AGENTS=normal,low adds a row
# with the agents at the lowest CPU priority (as if on other hosts); see
# tests/cluster/fleet_test.go.
# About 10 minutes with the defaults on 2 cores.
bench-fleet:
	PARAMSTORE_FLEET_N=$${FLEET_N:-1000,10000} PARAMSTORE_FLEET_NODES=$${FLEET_NODES:-1,3} \
	PARAMSTORE_FLEET_DURATION=$${FLEET_DURATION:-15s} PARAMSTORE_FLEET_OUT=$${FLEET_OUT:-} \
	PARAMSTORE_FLEET_AGENTS=$${FLEET_AGENTS:-normal} \
	$(GO) test -run '^$$' -bench Fleet -benchtime 1x -timeout 60m ./tests/cluster/

# The soak (issue 19): a durable server with auth and audit under issue 19's
# mixed load for SOAK_DURATION (default 30m), sampling RSS, goroutines, fds
# and the size of each part of the data dir; writes bench/SOAK.md. Small
# rotation settings (SOAK_SERVER_ARGS) show the plateau within the run.
soak: build
	$(GO) build -o bin/loadgen ./bench/loadgen
	$(GO) run ./bench/soak -bin $(BIN) -loadgen bin/loadgen -d $${SOAK_DURATION:-30m} -out bench/SOAK.md \
		-server-args "$${SOAK_SERVER_ARGS:---audit-max-size 32MiB --audit-retain 8}"

clean:
	rm -rf bin
