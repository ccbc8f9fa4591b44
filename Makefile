# SPDX-License-Identifier: GPL-2.0
# pymem-bpf: BPF object -> skeleton -> userspace loader, plus tests.

OUTPUT	:= build
CLANG	?= clang
BPFTOOL	?= bpftool
CC	?= cc
PYTHON	?= /usr/bin/python3
ARCH	:= $(shell uname -m | sed 's/x86_64/x86/')

# src/ holds one folder per concern; every folder is on the include path.
SRC_DIRS := $(sort $(dir $(wildcard src/*/*.c)))
SRC_INCLUDES := $(patsubst %/,-I%,$(SRC_DIRS))
INCLUDES := -Iinclude -Ivmlinux -I$(OUTPUT) $(SRC_INCLUDES)
CFLAGS	?= -g -O2
CFLAGS	+= -Wall -Wextra -Wno-unused-parameter -std=gnu11 -D_GNU_SOURCE
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -D__BPF__ \
	      -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
	      -Wno-compare-distinct-pointer-types
LDLIBS	:= -lbpf -lelf -lz -ljson-c -lcapstone -lcurl -lmicrohttpd -lm

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.bpf.o,$(BPF_SRCS))
SKELS	 := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))
SRCS	 := $(wildcard src/*/*.c)
OBJS	 := $(patsubst %.c,$(OUTPUT)/obj/%.o,$(notdir $(SRCS)))
vpath %.c $(SRC_DIRS)
# A module with generated sources adds to OBJS in src/<folder>/*.mk.
-include $(wildcard src/*/*.mk)
# make vmtest: the kernel matrix
-include tests/vm/vm.mk
# the Debian sid root with Debian's Python 3.13-3.15
include tests/sid/sid.mk
# make fuzz, make fuzz-long: libFuzzer on the parsers of outside input
include tests/fuzz/fuzz.mk
# make image: the container image the DaemonSet runs (deploy/)
include deploy/image.mk
LIB_OBJS := $(filter-out $(OUTPUT)/obj/main.o,$(OBJS))
TESTS	 := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(wildcard tests/unit/test_*.c))

DEB_PKGS := clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libcapstone-dev \
	    protobuf-c-compiler libprotobuf-c-dev golang-go chromium libpython3.11-testsuite python3-numpy \
	    libjson-c-dev libcmocka-dev python3-pytest pkg-config gcc make \
	    util-linux procps bpfcc-tools tmux debootstrap podman runc \
	    qemu-system-x86 cpio libcurl4-openssl-dev openssl python3-yaml libclang-rt-dev \
	    libmicrohttpd-dev prometheus

.PHONY: all clean deps test unit integration demo bench
all: $(OUTPUT)/pymem-bpf

$(OUTPUT) $(OUTPUT)/obj $(OUTPUT)/tests:
	mkdir -p $@

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h include/*.h) | $(OUTPUT)
	$(CLANG) $(BPF_CFLAGS) $(INCLUDES) -c $< -o $@

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@
# kept: deleted as intermediates, they would rebuild every object on the next make
.SECONDARY: $(BPF_OBJS) $(SKELS)

$(OUTPUT)/obj/%.o: %.c $(wildcard src/*/*.h include/*.h) $(SKELS) | $(OUTPUT)/obj
	$(CC) $(CFLAGS) $(INCLUDES) -c $< -o $@

$(OUTPUT)/pymem-bpf: $(OBJS)
	$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

# Unit tests link every module but main.o; a test may add rules, and objects
# to link as prerequisites, in tests/unit/*.mk.
-include $(wildcard tests/unit/*.mk)

$(OUTPUT)/tests/%: tests/unit/%.c $(LIB_OBJS) $(wildcard tests/unit/*.h) | $(OUTPUT)/tests
	$(CC) $(CFLAGS) $(INCLUDES) -I$(OUTPUT)/tests $< $(filter %.o,$^) $(LDLIBS) -lcmocka -o $@

unit: $(TESTS)
	@set -e; for t in $(TESTS); do echo "== $$t"; $$t; done

# check: the kernel's features and the verifier's figures per program, in the log
integration: all sidroot
	$(OUTPUT)/pymem-bpf check
	$(PYTHON) -m pytest -v tests/integration

# Installs only what is missing, so repeated runs cost nothing.
deps:
	@missing=$$(for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

test: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) fuzz
	$(MAKE) integration
	$(MAKE) vmtest

demo: deps
	$(MAKE) all
	./tests/demo.sh

$(OUTPUT)/probe_cost: tests/bench/probe_cost.c | $(OUTPUT)
	$(CC) $(CFLAGS) $< -o $@

# Issue 2's churn at depth 30 on a shared build, issue 3's at depth 28 on Debian's LTO build,
# and on Debian's 3.14 and 3.15 (sid root).
bench: deps all sidroot $(OUTPUT)/probe_cost
	$(PYTHON) tests/bench/attach.py
	$(PYTHON) tests/bench/agent.py
	$(PYTHON) tests/bench/bench.py --python /root/.pyenv/versions/3.11.7/bin/python3 --depth 30
	$(PYTHON) tests/bench/bench.py --python /usr/bin/python3.11 --depth 28
	$(PYTHON) tests/bench/bench.py --sid --python /usr/bin/python3.14 --depth 28
	$(PYTHON) tests/bench/bench.py --sid --python /usr/bin/python3.15 --depth 28
	$(PYTHON) tests/bench/sampled.py --python /usr/bin/python3.11
	$(PYTHON) tests/bench/sampled_accuracy.py
	$(PYTHON) tests/bench/sampled.py --sid --python /usr/bin/python3.14
	$(PYTHON) tests/bench/holders.py

clean:
	rm -rf $(OUTPUT)
