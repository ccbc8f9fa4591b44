# SPDX-License-Identifier: GPL-2.0
# Ground truth for test_alloc_table: where _PyRuntime keeps the allocator tables
# in 3.12+, from offsetof() on each build's own internal headers: the pyenv
# builds and Debian's 3.13-3.15 in the sid root (3.8-3.11 have .symtab symbols
# instead).  A missing build is an error.

ALLOC_TABLE_PYENV	?= $(or $(PYENV_ROOT),/root/.pyenv)/versions
ALLOC_TABLE_VERSIONS	:= 3.12 3.13
ALLOC_TABLE_SID		:= 3.13 3.14 3.15
ALLOC_TABLE_PARTS	:= $(patsubst %,$(OUTPUT)/tests/alloc_table_%.inc,$(ALLOC_TABLE_VERSIONS)) \
			   $(patsubst %,$(OUTPUT)/tests/alloc_table_sid%.inc,$(ALLOC_TABLE_SID))

$(OUTPUT)/tests/test_alloc_table: $(OUTPUT)/tests/alloc_table_fixtures.h $(OUTPUT)/tests/sid_root.h

$(OUTPUT)/tests/alloc_table_fixtures.h: $(ALLOC_TABLE_PARTS)
	cat $^ > $@

# $(call alloc_table_probe,INCLUDE FLAGS,BUILD NAME); -isystem keeps CPython's own warnings quiet
alloc_table_probe = $(CC) $(CFLAGS) $(1) $< -o $@.probe && $@.probe $(2) > $@.tmp && mv $@.tmp $@

# Newest installed 3.X.N wins.
$(OUTPUT)/tests/alloc_table_%.inc: tests/unit/alloc_table_probe.c
	@mkdir -p $(@D)
	@d=$$(ls -d $(ALLOC_TABLE_PYENV)/$*.[0-9]* 2>/dev/null | sort -V | tail -n 1); \
	if [ -z "$$d" ] || [ ! -d "$$d/include/python$*/internal" ]; then \
		echo "alloc_table: no pyenv CPython $* under $(ALLOC_TABLE_PYENV)" >&2; \
		exit 1; \
	fi; \
	echo "  PROBE   CPython $$(basename $$d) allocators"; \
	$(call alloc_table_probe,-isystem $$d/include/python$* -isystem $$d/include/python$*/internal,pyenv)

$(OUTPUT)/tests/alloc_table_sid%.inc: tests/unit/alloc_table_probe.c $(SID_STAMP)
	@mkdir -p $(@D)
	@echo "  PROBE   Debian sid CPython $* allocators"
	@$(call alloc_table_probe,$(call sid_python_includes,$*),debian)
