# SPDX-License-Identifier: GPL-2.0
# Ground truth for test_py_offsets: py_offsets_probe.c is built against each
# pyenv CPython's own headers (and libpython, for _PyRuntime's debug block),
# and each run prints one fixture entry.  A missing build is an error.

PY_OFFSETS_PYENV	?= $(or $(PYENV_ROOT),/root/.pyenv)/versions
PY_OFFSETS_VERSIONS	:= 3.8 3.9 3.10 3.11 3.12 3.13
PY_OFFSETS_PARTS	:= $(patsubst %,$(OUTPUT)/tests/py_offsets_%.inc,$(PY_OFFSETS_VERSIONS))

$(OUTPUT)/tests/test_py_offsets: $(OUTPUT)/tests/py_offsets_fixtures.h

$(OUTPUT)/tests/py_offsets_fixtures.h: $(PY_OFFSETS_PARTS)
	cat $^ > $@

# Newest installed 3.X.N wins; -isystem keeps CPython's own warnings quiet.
$(OUTPUT)/tests/py_offsets_%.inc: tests/unit/py_offsets_probe.c src/py_versions.h \
				  include/py_offsets.h
	@mkdir -p $(@D)
	@d=$$(ls -d $(PY_OFFSETS_PYENV)/$*.[0-9]* 2>/dev/null | sort -V | tail -n 1); \
	probe=$(OUTPUT)/tests/py_offsets_probe_$*; \
	if [ -z "$$d" ] || [ ! -d "$$d/include/python$*/internal" ]; then \
		echo "py_offsets: no pyenv CPython $* under $(PY_OFFSETS_PYENV)" >&2; \
		exit 1; \
	fi; \
	echo "  PROBE   CPython $$(basename $$d)"; \
	$(CC) $(CFLAGS) -Iinclude -isystem $$d/include/python$* \
		-isystem $$d/include/python$*/internal $< \
		-L$$d/lib -lpython$* -Wl,-rpath,$$d/lib -o $$probe && \
	$$probe > $@.tmp && mv $@.tmp $@
