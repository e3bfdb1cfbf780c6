# The README's two commands. Each installs what is missing, configures, builds, then benchmarks or tests.
#   make bench   benchmark every task's reference and baselines on the CPU backend into ./kforge.db
#   make test    build and run the tests (what CI runs): the tests, then the unit tests under ASan and UBSan,
#                then each fuzz target for FUZZ_SECONDS
#   make fuzz    build the libFuzzer targets (clang) and run each for FUZZ_SECONDS
PRESET ?= ci
BUILD_DIR := build/$(PRESET)
KFORGE := $(BUILD_DIR)/kforge
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 20

# Debian packages kforge builds and tests with (CMake finds them with find_package; nothing is downloaded);
# OpenBLAS and oneDNN are linked by the vendor-baseline kernels; hipcc builds the HIP backend and compiles every
# GPU reference for gfx90a; the report's tests open the site in chromium; bubblewrap and libseccomp confine the
# kernels; cpp-httplib (found through pkg-config) serves `kforge serve`; clang and libFuzzer build the fuzz
# targets. The CUDA backend needs NVIDIA's toolkit (/usr/local/cuda), not a Debian package: without it the CUDA
# compile tests skip with a reason.
DEBIAN_PACKAGES := cmake ninja-build g++ make nlohmann-json3-dev libcli11-dev libsqlite3-dev libssl-dev \
                   libgtest-dev libbenchmark-dev libdlpack-dev libcurl4-openssl-dev libopenblas-dev libdnnl-dev \
                   sqlite3 clang-format hipcc libamdhip64-dev chromium bubblewrap libseccomp-dev clang \
                   libfuzzer-14-dev python3-dev python3-venv libcpp-httplib-dev pkg-config

# Python kernels and the torch baselines run under PyTorch from PyPI, in a project virtual environment made
# from Debian's python3 (its shared libpython is what kforge embeds; Debian's python3-torch is 1.13, without
# torch.compile). KFORGE_PYTHON names another interpreter instead, and then no venv is made.
PYTHON ?= /usr/bin/python3
VENV := .venv

.PHONY: deps python configure build test test-asan fuzz bench selfbench tasks-table format format-check tidy clean gpu-bundle

deps:
	@missing=""; \
	for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	  else \
	    echo "kforge needs these Debian packages; run:"; \
	    echo "  sudo apt-get update && sudo apt-get install -y$$missing"; \
	    exit 3; \
	  fi; \
	fi

# Reinstalls only when python/requirements.txt changed since the last install (about 5 GB, 2 minutes fresh).
python: deps
	@if [ -n "$$KFORGE_PYTHON" ]; then echo "Python kernels run under KFORGE_PYTHON=$$KFORGE_PYTHON"; \
	elif ! cmp -s python/requirements.txt $(VENV)/kforge-requirements.txt; then \
	  echo "setting up $(VENV): PyTorch from PyPI (python/requirements.txt)"; \
	  $(PYTHON) -m venv $(VENV) && \
	  $(VENV)/bin/pip install --disable-pip-version-check -q -r python/requirements.txt && \
	  cp python/requirements.txt $(VENV)/kforge-requirements.txt; \
	fi

configure: deps
	cmake --preset $(PRESET)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build python format-check
	ctest --preset $(PRESET) -j $(JOBS)
	$(MAKE) test-asan
	@if command -v clang++ >/dev/null && [ -n "$(wildcard /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a)" ]; \
	then $(MAKE) fuzz FUZZ_SECONDS=10; else echo "skipping the fuzz targets: no clang++ or libFuzzer (apt-get install clang libfuzzer-14-dev)"; fi

# The unit tests under ASan and UBSan (build/asan): only their target is built, so this costs one sanitized
# compile of the libraries, not of the whole tree.
test-asan: deps
	cmake --preset asan
	cmake --build build/asan -j $(JOBS) --target kforge_unit_tests
	ctest --preset asan -L unit -j $(JOBS)

# Each fuzz target for FUZZ_SECONDS from its corpus (tests/fuzz/corpus/); a crash fails and leaves its input in
# build/fuzz/fuzz-artifacts/.
fuzz: deps
	cmake --preset fuzz
	cmake --build --preset fuzz -j $(JOBS)
	FUZZ_SECONDS=$(FUZZ_SECONDS) ctest --preset fuzz -j $(JOBS)

# Every reference, vendor baseline and PyTorch eager baseline on the CPU, each timed for at most 2 s of measured
# time (bench's default is 5): on a shared 2-core machine most kernels reach that cap before the 0.5% noise
# target either way, and the suite stays within 15 minutes. The torch-compile baselines are left out (inductor
# compiles C++ for every shape in each runner: `kforge bench --torch-compile`).
bench: build python
	$(KFORGE) bench --backend cpu --db kforge.db --max-time 2

selfbench: build python
	$(BUILD_DIR)/kforge_selfbench

# dist/kforge-gpu: kforge with the CUDA backend, its GPU tests, every shared library a stock CUDA machine lacks (the
# C++ runtime only as a fallback for a machine whose own is older) and a warm sm_90 compile cache, for
# scripts/gpu-check.sh there (copy the folder over, run kforge-gpu/gpu-check.sh: under 8 minutes on one H200). The
# script fails a bundle of 56 MiB or more: a lent GPU machine takes 64 MiB in all. Builds build/bundle once.
gpu-bundle: deps
	scripts/make-gpu-bundle.sh build/bundle dist/kforge-gpu

# Rewrites the table at the end of tasks/README.md from the task files.
tasks-table: build
	sed -i '/^## The tasks$$/,$$d' tasks/README.md
	printf '## The tasks\n\n' >> tasks/README.md
	$(KFORGE) tasks list --markdown >> tasks/README.md

format:
	git ls-files '*.cpp' '*.h' '*.cu' | xargs clang-format -i

format-check:
	git ls-files '*.cpp' '*.h' '*.cu' | xargs clang-format --dry-run --Werror

tidy: configure
	git ls-files 'core/*.cpp' 'backends/*.cpp' 'verifier/*.cpp' 'harness/*.cpp' | xargs clang-tidy -p $(BUILD_DIR) --quiet

clean:
	rm -rf build
