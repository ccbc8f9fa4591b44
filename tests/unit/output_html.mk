# SPDX-License-Identifier: GPL-2.0
# The test_output_html* tests share a fixture profile and the page's readers
# through output_html_fixture.o.

OUTPUT_HTML_TESTS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(wildcard tests/unit/test_output_html*.c))

$(OUTPUT_HTML_TESTS): $(OUTPUT)/tests/output_html_fixture.o

$(OUTPUT)/tests/output_html_fixture.o: tests/unit/output_html_fixture.c \
				       tests/unit/output_html_fixture.h $(wildcard src/*/*.h include/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(INCLUDES) -c $< -o $@
