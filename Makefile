# Outpost — the commands users type. CMake does the building; this wraps it.
#
#   make            build (build/)
#   make demo       install missing packages, build, sync a generated account, serve it
#   make check      install missing packages, build, run every test, then again under ASan+UBSan
#   make bench      run every benchmark under bench/ (results in bench-results/NAME.json)
#   make bench-NAME run one benchmark
#   make soak       long crash loops and load tests (counts from OUTPOST_SOAK_LOOPS)
#   make check-tsan the threaded tests again under ThreadSanitizer (build-tsan/; not in check)
#   make install    install (PREFIX=/usr/local, DESTDIR honoured)
#   make clean      remove build trees and results

PREFIX ?= /usr/local
BUILD ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE ?= cmake
CTEST ?= ctest
CTEST_JOBS ?= 2

# Tests not repeated under sanitizers: Wine cross builds and real-client runs.
ASAN_EXCLUDE ?= windows|wine32|realclient
SAN_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_odr_violation=0 \
          UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
          LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
          OUTPOST_NO_DLCLOSE=1 OUTPOST_SANITIZED=1
# ThreadSanitizer: the tests with threads of ours (storage, sync engine, transports, front-ends);
# Firebird's engine, the Wine and fuzz runs and the crash loops are left out (see tests/tsan.supp).
TSAN_LABELS ?= sqlite|sync|imap|kerio|ews|unit|store|mapi
TSAN_EXCLUDE ?= fuzz|wine|windows|wine32|firebird|crash
TSAN_ENV = TSAN_OPTIONS=suppressions=$(CURDIR)/tests/tsan.supp:halt_on_error=1:report_signal_unsafe=0 OUTPOST_NO_DLCLOSE=1 \
           OUTPOST_TEST_NO_FIREBIRD=1

.PHONY: all build deps configure demo check check-native check-asan check-tsan bench soak install clean FORCE

all: build

deps:
	@scripts/deps.sh

$(BUILD)/CMakeCache.txt:
	$(CMAKE) -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX)

configure: $(BUILD)/CMakeCache.txt

build: configure
	$(CMAKE) --build $(BUILD) -j $(JOBS)

demo: deps
	@$(MAKE) --no-print-directory build
	@scripts/demo.sh $(BUILD)

check: deps
	@$(MAKE) --no-print-directory check-native
	@$(MAKE) --no-print-directory check-asan

check-native: build
	@echo "== ctest ($(BUILD))"
	cd $(BUILD) && $(CTEST) -j $(CTEST_JOBS) --output-on-failure --timeout 900

$(ASAN_BUILD)/CMakeCache.txt:
	CC=clang $(CMAKE) -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DOUTPOST_SANITIZE=ON -DOUTPOST_FUZZ=ON

check-asan: $(ASAN_BUILD)/CMakeCache.txt
	$(CMAKE) --build $(ASAN_BUILD) -j $(JOBS)
	@echo "== ctest under ASan+UBSan ($(ASAN_BUILD)), without: $(ASAN_EXCLUDE)"
	cd $(ASAN_BUILD) && env $(SAN_ENV) $(CTEST) -j $(CTEST_JOBS) --output-on-failure --timeout 1200 -LE '$(ASAN_EXCLUDE)'

$(TSAN_BUILD)/CMakeCache.txt:
	CC=clang $(CMAKE) -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug \
	  -DCMAKE_C_FLAGS="-fsanitize=thread -O1 -g" -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread \
	  -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread

check-tsan: deps $(TSAN_BUILD)/CMakeCache.txt
	$(CMAKE) --build $(TSAN_BUILD) -j $(JOBS)
	@echo "== ctest under ThreadSanitizer ($(TSAN_BUILD)): labels $(TSAN_LABELS), without $(TSAN_EXCLUDE)"
	cd $(TSAN_BUILD) && env $(TSAN_ENV) $(CTEST) -j $(CTEST_JOBS) --output-on-failure --timeout 1200 \
	  -L '$(TSAN_LABELS)' -LE '$(TSAN_EXCLUDE)'

bench: build
	@mkdir -p bench-results
	@for d in bench/*/; do n=$$(basename $$d); \
	  echo "== bench $$n"; $(CMAKE) --build $(BUILD) --target bench-$$n || exit 1; done

bench-%: build FORCE
	@mkdir -p bench-results
	$(CMAKE) --build $(BUILD) --target $@

soak: build
	cd $(BUILD) && OUTPOST_CRASH_LOOPS=$${OUTPOST_SOAK_LOOPS:-500} OUTPOST_SYNC_CRASH_LOOPS=$${OUTPOST_SOAK_LOOPS:-200} \
	  OUTPOST_SOAK=1 $(CTEST) --output-on-failure --timeout 0 -L 'crash|soak'

# The prefix is compiled in (the plugin directory, the unit's ExecStart): a PREFIX other than
# the one build/ was configured with configures it again before installing.
install: configure
	@if ! grep -qx 'CMAKE_INSTALL_PREFIX:PATH=$(PREFIX)' $(BUILD)/CMakeCache.txt; then \
	  echo "== configuring $(BUILD) for PREFIX=$(PREFIX)"; \
	  $(CMAKE) -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX); fi
	$(CMAKE) --build $(BUILD) -j $(JOBS)
	$(CMAKE) --install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) bench-results

FORCE:
