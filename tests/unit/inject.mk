# SPDX-License-Identifier: GPL-2.0
# The test_inject* tests run inject_target, a small threaded program parked in
# blocking calls, and share their helpers through inject_harness.o.

INJECT_TESTS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(wildcard tests/unit/test_inject*.c))

$(INJECT_TESTS): $(OUTPUT)/tests/inject_target $(OUTPUT)/tests/inject_harness.o \
		 tests/unit/inject_harness.h

$(OUTPUT)/tests/inject_harness.o: tests/unit/inject_harness.c tests/unit/inject_harness.h \
				  src/inject/inject.h $(OUTPUT)/tests/inject_fixtures.h
	$(CC) $(CFLAGS) $(INCLUDES) -I$(OUTPUT)/tests -c $< -o $@

$(OUTPUT)/tests/inject_target: tests/unit/inject_target.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -pthread $< -o $@

$(OUTPUT)/tests/inject_fixtures.h: tests/unit/inject.mk
	@mkdir -p $(@D)
	printf '#define INJECT_TARGET "%s"\n' $(abspath $(OUTPUT)/tests/inject_target) > $@
