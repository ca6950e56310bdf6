# kervan — the two commands of the README, and a few helpers.
#
#   make         build (build/kervan)
#   make run     install what is missing, build, run the main job
#   make check   install what is missing, build, run every test, fuzz the
#                parsers for a bounded time, then run every test again under
#                ASan+UBSan
#   make bench   run the benchmarks
#   make format  clang-format the sources

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 30
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CTEST      = ctest --output-on-failure --no-tests=error -j$(JOBS)

.PHONY: all deps build run check test test-asan fuzz bench format clean

all: build

deps:
	@sh scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

run: build
	@sh scripts/demo.sh $(BUILD)/kervan

test: build
	cd $(BUILD) && $(CTEST)

test-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DKV_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $(CTEST)

fuzz: deps
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang-14 -DCMAKE_BUILD_TYPE=Debug \
	  -DKV_FUZZ=ON -DKV_SANITIZE=ON -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link" >/dev/null
	@cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzz_all
	@sh scripts/fuzz.sh $(FUZZ_BUILD)/fuzz $(FUZZ_SECONDS)

# The sanitizer run comes last so that CTest's summary closes the output.
check: test fuzz test-asan

bench: build
	@sh scripts/bench.sh $(BUILD)

format:
	clang-format -i src/*/*.c src/*/*.h tests/*/*.c fuzz/*.c bench/*.c tools/*.c

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
