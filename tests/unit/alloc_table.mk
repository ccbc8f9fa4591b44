# SPDX-License-Identifier: GPL-2.0
# Ground truth for test_alloc_table: where _PyRuntime keeps the allocator tables
# in 3.12+, from offsetof() on each pyenv build's own internal headers (3.8-3.11
# have .symtab symbols instead).  A missing build is an error.

ALLOC_TABLE_PYENV	?= $(or $(PYENV_ROOT),/root/.pyenv)/versions
ALLOC_TABLE_VERSIONS	:= 3.12 3.13
ALLOC_TABLE_PARTS	:= $(patsubst %,$(OUTPUT)/tests/alloc_table_%.inc,$(ALLOC_TABLE_VERSIONS))

$(OUTPUT)/tests/test_alloc_table: $(OUTPUT)/tests/alloc_table_fixtures.h

$(OUTPUT)/tests/alloc_table_fixtures.h: $(ALLOC_TABLE_PARTS)
	cat $^ > $@

# Newest installed 3.X.N wins; -isystem keeps CPython's own warnings quiet.
$(OUTPUT)/tests/alloc_table_%.inc: tests/unit/alloc_table_probe.c
	@mkdir -p $(@D)
	@d=$$(ls -d $(ALLOC_TABLE_PYENV)/$*.[0-9]* 2>/dev/null | sort -V | tail -n 1); \
	probe=$(OUTPUT)/tests/alloc_table_probe_$*; \
	if [ -z "$$d" ] || [ ! -d "$$d/include/python$*/internal" ]; then \
		echo "alloc_table: no pyenv CPython $* under $(ALLOC_TABLE_PYENV)" >&2; \
		exit 1; \
	fi; \
	echo "  PROBE   CPython $$(basename $$d) allocators"; \
	$(CC) $(CFLAGS) -isystem $$d/include/python$* -isystem $$d/include/python$*/internal \
		$< -o $$probe && \
	$$probe > $@.tmp && mv $@.tmp $@
