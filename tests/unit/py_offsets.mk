# SPDX-License-Identifier: GPL-2.0
# Ground truth for test_py_offsets: py_offsets_probe.c is built against each
# CPython's own headers, each pyenv build and Debian's 3.13-3.15 in the sid
# root (tests/sid), and each run prints one fixture entry, with the debug
# block the build's ELF file holds (3.13+).  A missing build is an error.

PY_OFFSETS_PYENV	?= $(or $(PYENV_ROOT),/root/.pyenv)/versions
PY_OFFSETS_VERSIONS	:= 3.8 3.9 3.10 3.11 3.12 3.13
PY_OFFSETS_SID		:= 3.13 3.14 3.15
PY_OFFSETS_PARTS	:= $(patsubst %,$(OUTPUT)/tests/py_offsets_%.inc,$(PY_OFFSETS_VERSIONS)) \
			   $(patsubst %,$(OUTPUT)/tests/py_offsets_sid%.inc,$(PY_OFFSETS_SID))
# the probe reads _PyRuntime's debug block with elf_syms.h's open, lookup and read
PY_OFFSETS_OBJS		:= $(OUTPUT)/obj/elf_syms.o $(OUTPUT)/obj/elf_syms_lookup.o $(OUTPUT)/obj/grow.o
PY_OFFSETS_DEPS		:= tests/unit/py_offsets_probe.c tests/unit/cpython_internal.h src/process/py_debug_offsets.h include/py_offsets.h \
			   $(PY_OFFSETS_OBJS)

$(OUTPUT)/tests/test_py_offsets: $(OUTPUT)/tests/py_offsets_fixtures.h

$(OUTPUT)/tests/py_offsets_fixtures.h: $(PY_OFFSETS_PARTS)
	cat $^ > $@

# $(call py_offsets_probe,INCLUDE FLAGS,ELF HOLDING _PyRuntime,BUILD NAME); -isystem keeps
# CPython's own warnings quiet
py_offsets_probe = $(CC) $(CFLAGS) -Iinclude $(1) $< $(PY_OFFSETS_OBJS) -lelf -lz \
		   -o $@.probe && $@.probe $(2) $(3) > $@.tmp && mv $@.tmp $@

# Newest installed 3.X.N wins.
$(OUTPUT)/tests/py_offsets_%.inc: $(PY_OFFSETS_DEPS)
	@mkdir -p $(@D)
	@d=$$(ls -d $(PY_OFFSETS_PYENV)/$*.[0-9]* 2>/dev/null | sort -V | tail -n 1); \
	if [ -z "$$d" ] || [ ! -d "$$d/include/python$*/internal" ]; then \
		echo "py_offsets: no pyenv CPython $* under $(PY_OFFSETS_PYENV)" >&2; \
		exit 1; \
	fi; \
	echo "  PROBE   CPython $$(basename $$d)"; \
	$(call py_offsets_probe,-isystem $$d/include/python$* -isystem $$d/include/python$*/internal,$$d/lib/libpython$*.so.1.0,pyenv)

$(OUTPUT)/tests/py_offsets_sid%.inc: $(PY_OFFSETS_DEPS) $(SID_STAMP)
	@mkdir -p $(@D)
	@echo "  PROBE   Debian sid CPython $*"
	@$(call py_offsets_probe,$(call sid_python_includes,$*),$(SID_ROOT)/usr/bin/python$*,debian)
