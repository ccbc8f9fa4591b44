# The Debian sid root with Debian's own Python 3.13, 3.14 and 3.15 builds (LTO+PGO), made by
# tests/sid/sidroot.py from the host's apt archive and kept under build/sid: the unit tests
# compile against its -dev headers, the integration tests run its interpreters.

# This file is read before the Makefile's first rule: leave the default goal alone.
sid_saved_goal := $(.DEFAULT_GOAL)

SID_ROOT	:= $(OUTPUT)/sid/root
# written last, once the root is whole; names the packages it holds
SID_STAMP	:= $(SID_ROOT).packages

# $(call sid_python_includes,3.X): compiler flags for a build's own (internal) headers; Debian
# splits pyconfig.h into its multiarch directory, so the root's /usr/include comes too, but
# last, after this host's C headers
sid_python_includes = -isystem $(SID_ROOT)/usr/include/python$(1) \
		      -isystem $(SID_ROOT)/usr/include/python$(1)/internal -idirafter $(SID_ROOT)/usr/include

.PHONY: sidroot
# Cheap when the root is there with the same packages.
sidroot:
	$(PYTHON) tests/sid/sidroot.py

$(SID_STAMP): tests/sid/sidroot.py
	$(PYTHON) tests/sid/sidroot.py

# Where unit tests find the root's interpreters.
$(OUTPUT)/tests/sid_root.h: tests/sid/sid.mk
	@mkdir -p $(@D)
	printf '#define SID_ROOT "%s"\n' $(abspath $(SID_ROOT)) > $@

.DEFAULT_GOAL := $(sid_saved_goal)
