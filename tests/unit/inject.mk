# SPDX-License-Identifier: GPL-2.0
# test_inject runs inject_target, a small threaded program parked in blocking calls.

$(OUTPUT)/tests/test_inject: $(OUTPUT)/tests/inject_target $(OUTPUT)/tests/inject_fixtures.h

$(OUTPUT)/tests/inject_target: tests/unit/inject_target.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -pthread $< -o $@

$(OUTPUT)/tests/inject_fixtures.h: tests/unit/inject.mk
	@mkdir -p $(@D)
	printf '#define INJECT_TARGET "%s"\n' $(abspath $(OUTPUT)/tests/inject_target) > $@
