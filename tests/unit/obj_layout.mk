# SPDX-License-Identifier: GPL-2.0
# Ground truth for test_obj_layout: obj_layout_probe.c built against each
# CPython's own headers (each pyenv build, and Debian's 3.13-3.15 in the sid
# root), each run printing one fixture entry.  A missing build is an error.

OBJ_LAYOUT_PYENV	?= $(or $(PYENV_ROOT),/root/.pyenv)/versions
OBJ_LAYOUT_VERSIONS	:= 3.8 3.9 3.10 3.11 3.12 3.13
OBJ_LAYOUT_SID		:= 3.13 3.14 3.15
OBJ_LAYOUT_PARTS	:= $(patsubst %,$(OUTPUT)/tests/obj_layout_%.inc,$(OBJ_LAYOUT_VERSIONS)) \
			   $(patsubst %,$(OUTPUT)/tests/obj_layout_sid%.inc,$(OBJ_LAYOUT_SID))

$(OUTPUT)/tests/test_obj_layout: $(OUTPUT)/tests/obj_layout_fixtures.h

$(OUTPUT)/tests/obj_layout_fixtures.h: $(OBJ_LAYOUT_PARTS)
	cat $^ > $@

# $(call obj_layout_probe,INCLUDE FLAGS,ELF HOLDING _PyRuntime,BUILD NAME)
obj_layout_probe = $(CC) $(CFLAGS) $(1) $< -o $@.probe && $@.probe $(2) $(3) > $@.tmp && mv $@.tmp $@

# Newest installed 3.X.N wins.
$(OUTPUT)/tests/obj_layout_%.inc: tests/unit/obj_layout_probe.c tests/unit/cpython_internal.h
	@mkdir -p $(@D)
	@d=$$(ls -d $(OBJ_LAYOUT_PYENV)/$*.[0-9]* 2>/dev/null | sort -V | tail -n 1); \
	if [ -z "$$d" ] || [ ! -d "$$d/include/python$*/internal" ]; then \
		echo "obj_layout: no pyenv CPython $* under $(OBJ_LAYOUT_PYENV)" >&2; \
		exit 1; \
	fi; \
	echo "  PROBE   CPython $$(basename $$d) objects"; \
	$(call obj_layout_probe,-isystem $$d/include/python$* -isystem $$d/include/python$*/internal,$$d/lib/libpython$*.so.1.0,pyenv)

$(OUTPUT)/tests/obj_layout_sid%.inc: tests/unit/obj_layout_probe.c tests/unit/cpython_internal.h $(SID_STAMP)
	@mkdir -p $(@D)
	@echo "  PROBE   Debian sid CPython $* objects"
	@$(call obj_layout_probe,$(call sid_python_includes,$*),$(SID_ROOT)/usr/bin/python$*,debian)
