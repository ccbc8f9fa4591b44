# SPDX-License-Identifier: GPL-2.0
# Fixtures for test_elf_syms: tiny shared objects with known version-like
# strings and symbols, laid out by the real compiler and linker (which may
# tail-merge one literal into another, as it does in pyenv's libpython).

ELF_SYMS_FIX_NAMES	:= rc plus tail pick hex dup
ELF_SYMS_FIXES		:= $(patsubst %,$(OUTPUT)/tests/elf_syms_fix_%.so,$(ELF_SYMS_FIX_NAMES))

# Each fixture links up to two translation units, SRC then SRC2, one line per word.
ELF_SYMS_SRC_rc		:= 'const char *f0(void) { return "3.12.0rc1"; }'
ELF_SYMS_SRC_plus	:= 'const char *f0(void) { return "3.11.2+"; }' \
			   'const char *f1(void) { return "3.11.25x"; }'
ELF_SYMS_SRC_tail	:= 'const char *f0(void) { return "x13.10.9"; }' \
			   'const char *f1(void) { return "2.3.10.8"; }' \
			   'const char *f2(void) { return "/opt/Python-3.10.4"; }' \
			   'const char *f3(void) { return "3.10.4"; }'
ELF_SYMS_SRC_pick	:= 'const char *f0(void) { return "3.9.1"; }' \
			   'const char *f1(void) { return "/usr/3.9.2"; }' \
			   'const char *f2(void) { return "/opt/3.9.2"; }'
ELF_SYMS_SRC_hex	:= 'const unsigned long Py_Version = 0x030c00c1;' \
			   'const char *f0(void) { return "3.12.0"; }' \
			   'const char *f1(void) { return "/p/Python-3.12.0rc1"; }'
# A GLOBAL and a LOCAL dup_fn (the GLOBAL at the lower address), and a GLOBAL
# _alias_g sharing its address with a LOCAL alias_l.
ELF_SYMS_SRC_dup	:= 'int dup_fn(void) { return 2; }' \
			   '__asm__(".text\n.globl _alias_g\n.type _alias_g,@function\n"' \
			   '".type alias_l,@function\n_alias_g:\nalias_l:\n\tret\n"' \
			   '".size _alias_g,1\n.size alias_l,1\n");'
ELF_SYMS_SRC2_dup	:= 'static int dup_fn(void) { return 1; }' \
			   'int (*get_local(void))(void) { return dup_fn; }'

$(OUTPUT)/tests/test_elf_syms: $(OUTPUT)/tests/elf_syms_fixtures.h

$(OUTPUT)/tests/elf_syms_fixtures.h: $(ELF_SYMS_FIXES)
	@mkdir -p $(@D)
	printf '#define ELF_SYMS_FIX_DIR "%s"\n' $(abspath $(OUTPUT)/tests) > $@

$(ELF_SYMS_FIXES): $(OUTPUT)/tests/elf_syms_fix_%.so: tests/unit/elf_syms.mk
	@mkdir -p $(@D)
	printf '%s\n' $(ELF_SYMS_SRC_$*) > $@.1.c
	printf '%s\n' $(ELF_SYMS_SRC2_$*) > $@.2.c
	$(CC) -shared -fPIC -O2 $@.1.c $@.2.c -o $@
