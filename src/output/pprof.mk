# SPDX-License-Identifier: GPL-2.0
# pprof output: the perftools.profiles schema compiled by protoc-c
# (Debian protobuf-c-compiler) and linked with libprotobuf-c (libprotobuf-c-dev).

PROTOC_C	?= protoc-c
PPROF_GEN	:= $(OUTPUT)/pprof.pb-c.c $(OUTPUT)/pprof.pb-c.h

# This file is read before the Makefile's first rule: leave the default goal alone.
pprof_saved_goal := $(.DEFAULT_GOAL)

$(PPROF_GEN) &: src/output/pprof.proto | $(OUTPUT)
	$(PROTOC_C) --proto_path=src/output --c_out=$(OUTPUT) $<

$(OUTPUT)/obj/pprof.pb-c.o: $(PPROF_GEN) | $(OUTPUT)/obj
	$(CC) $(CFLAGS) $(INCLUDES) -c $(OUTPUT)/pprof.pb-c.c -o $@

# every file that includes output_pprof_priv.h
$(OUTPUT)/obj/output_pprof.o $(OUTPUT)/obj/output_pprof_tables.o \
$(OUTPUT)/obj/output_pprof_pack.o: $(OUTPUT)/pprof.pb-c.h

.DEFAULT_GOAL := $(pprof_saved_goal)

OBJS	+= $(OUTPUT)/obj/pprof.pb-c.o
LDLIBS	+= -lprotobuf-c
