# tests/loaders - programs the ELF loader (loaders/zpload, `zprun --loader`)
# must hook from their first instruction, and the suite that checks it.
#
#   bash tests/loaders/run.sh [NAME-SUBSTRING]     (LOADER_TEST_SUITES)
#
# Programs (LOADER_TEST_TARGETS, built into tests/out/):
#   calls_static, calls_static_pie, calls_dynamic   tests/loaders/calls.c built
#       with gcc -static, -static-pie and dynamically: a known set of calls
#   goprog   tests/loaders/goprog/main.go: Go's runtime (threads, GC, async
#       preemption by SIGURG, timers) with an exact number of getppid calls
# And Debian's busybox-static, fetched by `make deps` without installing it
# (it Conflicts with the installed busybox package):
#   build/busybox-static/bin/busybox                (LOADER_BUSYBOX)

LOADER_TEST_SUITES := tests/loaders/run.sh

LOADER_CALLS_BINS := $(TEST_OUT)/calls_static $(TEST_OUT)/calls_static_pie $(TEST_OUT)/calls_dynamic

$(TEST_OUT)/calls_static: tests/loaders/calls.c | $(TEST_OUT)
	$(CC) $(CFLAGS) -pthread -static -o $@ $<

$(TEST_OUT)/calls_static_pie: tests/loaders/calls.c | $(TEST_OUT)
	$(CC) $(CFLAGS) -pthread -fPIE -static-pie -o $@ $<

$(TEST_OUT)/calls_dynamic: tests/loaders/calls.c | $(TEST_OUT)
	$(CC) $(CFLAGS) -pthread -o $@ $<

# Go: Debian's golang-go (1.19), stdlib only, no modules; the build cache and
# GOPATH live under tests/out/ so nothing is written to $HOME.  CGO_ENABLED=0
# makes a statically linked binary with Go's own raw system calls.
LOADER_GO_ENV := GO111MODULE=off CGO_ENABLED=0 GOFLAGS= \
                 GOCACHE=$(CURDIR)/$(TEST_OUT)/go-cache GOPATH=$(CURDIR)/$(TEST_OUT)/go-path

$(TEST_OUT)/goprog: $(wildcard tests/loaders/goprog/*.go) | $(TEST_OUT)
	cd tests/loaders/goprog && env $(LOADER_GO_ENV) go build -o $(CURDIR)/$@ .

# A signal interrupting a hooked call finds the program's own TLS (static).
$(TEST_OUT)/tls_signal: tests/loaders/tls_signal.c | $(TEST_OUT)
	$(CC) $(CFLAGS) -pthread -static -o $@ $<

LOADER_TEST_TARGETS := $(LOADER_CALLS_BINS) $(TEST_OUT)/goprog $(TEST_OUT)/tls_signal
CLEAN_FILES += $(LOADER_TEST_TARGETS)

# busybox-static: `apt-get download` into build/debs/ (unless a .deb is
# already there) and unpacked with dpkg-deb -x into build/busybox-static/.
# Idempotent (the file target); when the download fails the package lists
# are refreshed once (root only) and it is tried again.  `make deps` makes it.
LOADER_BUSYBOX := build/busybox-static/bin/busybox

$(LOADER_BUSYBOX):
	@mkdir -p build/debs
	@cd build/debs && { ls busybox-static_*.deb >/dev/null 2>&1 || apt-get download -qq -o APT::Sandbox::User=root busybox-static >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && apt-get update -qq >/dev/null 2>&1 && \
	    apt-get download -qq -o APT::Sandbox::User=root busybox-static >/dev/null 2>&1; }; } || \
	  { echo "deps: cannot fetch Debian's busybox-static (apt-get download busybox-static failed; as root, with Debian's apt sources)"; exit 1; }
	@rm -rf build/busybox-static
	@deb=$$(ls -t build/debs/busybox-static_*.deb | head -n 1) && dpkg-deb -x "$$deb" build/busybox-static && \
	  test -x $@ && touch $@ && echo "deps: $@ from $$(basename $$deb)" || \
	  { echo "deps: cannot unpack busybox-static into build/busybox-static"; exit 1; }

# `make test` runs the suite and builds its programs first (tests/tests.mk
# expands TEST_OTHER_SUITES when its recipe runs; an extra prerequisite line
# adds the programs).
TEST_OTHER_SUITES += $(LOADER_TEST_SUITES)
test: $(LOADER_TEST_TARGETS)
