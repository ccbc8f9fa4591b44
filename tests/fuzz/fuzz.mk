# libFuzzer harnesses for what comes from outside the agent (a query off the network, a
# container's /proc files, the kubelet's answer), built with clang's fuzzer, ASan and UBSan.
#   make fuzz       a short run of each (part of make test)
#   make fuzz-long  10 M executions of each
# A run starts from tests/fuzz/corpus/NAME (real samples) and keeps what it finds in
# build/fuzz/corpus/NAME; a crash leaves its input in build/fuzz/ and fails the target.

# This file is read before the Makefile's first rule: leave the default goal alone.
fuzz_saved_goal := $(.DEFAULT_GOAL)

FUZZ_DIR	:= $(OUTPUT)/fuzz
FUZZ_NAMES	:= query cgroup_id proc_maps proc_mem kubelet_podlist
FUZZ_BINS	:= $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_NAMES))
FUZZ_CFLAGS	:= -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		   -Wall -Wextra -Wno-unused-parameter -std=gnu11 -D_GNU_SOURCE $(INCLUDES)
FUZZ_SHORT	?= -runs=200000 -max_total_time=30
FUZZ_LONG	?= -runs=10000000

# each harness with the sources it reaches
fuzz_query_SRCS			:= src/agent/query.c src/process/cgroup_id.c
fuzz_cgroup_id_SRCS		:= src/process/cgroup_id.c
fuzz_proc_maps_SRCS		:= src/process/proc_maps.c
fuzz_proc_mem_SRCS		:= src/process/proc_mem.c
fuzz_kubelet_podlist_SRCS	:= src/agent/kubelet_podlist.c src/process/cgroup_id.c
fuzz_kubelet_podlist_LIBS	:= -ljson-c

.PHONY: fuzz fuzz-long fuzz-build
fuzz-build: $(FUZZ_BINS)

define fuzz_rule
$(FUZZ_DIR)/fuzz_$(1): tests/fuzz/fuzz_$(1).c $(fuzz_$(1)_SRCS) $(wildcard src/*/*.h)
	@mkdir -p $$(@D)
	$$(CLANG) $$(FUZZ_CFLAGS) $$< $(fuzz_$(1)_SRCS) $(fuzz_$(1)_LIBS) -o $$@
endef
$(foreach n,$(FUZZ_NAMES),$(eval $(call fuzz_rule,$(n))))

# $(call fuzz_run,NAME,OPTIONS): libFuzzer's last lines (executions, coverage), or on a crash
# its report
fuzz_run = echo "== fuzz $(1)"; mkdir -p $(FUZZ_DIR)/corpus/$(1); \
	if $(FUZZ_DIR)/fuzz_$(1) $(2) -artifact_prefix=$(FUZZ_DIR)/$(1)- \
		$(if $(wildcard tests/fuzz/$(1).dict),-dict=tests/fuzz/$(1).dict) \
		$(FUZZ_DIR)/corpus/$(1) tests/fuzz/corpus/$(1) > $(FUZZ_DIR)/$(1).log 2>&1; \
	then grep -E '^(Done|stat::number_of_executed_units)|DONE' $(FUZZ_DIR)/$(1).log | tail -2; \
	else tail -40 $(FUZZ_DIR)/$(1).log; exit 1; fi;

fuzz: $(FUZZ_BINS)
	@$(foreach n,$(FUZZ_NAMES),$(call fuzz_run,$(n),$(FUZZ_SHORT)))

fuzz-long: $(FUZZ_BINS)
	@$(foreach n,$(FUZZ_NAMES),$(call fuzz_run,$(n),$(FUZZ_LONG)))

.DEFAULT_GOAL := $(fuzz_saved_goal)
