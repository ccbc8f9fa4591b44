// SPDX-License-Identifier: GPL-2.0
/* Where on a function an entry probe costs least (see probe_site.h). */
#include <stdbool.h>
#include <capstone/capstone.h>
#include "probe_site.h"

/* test or cmp of registers and immediates: writes the flags and nothing else */
static bool flags_only(const cs_insn *in)
{
	const cs_x86 *x = &in->detail->x86;
	int i;

	if (in->id != X86_INS_TEST && in->id != X86_INS_CMP)
		return false;
	for (i = 0; i < x->op_count; i++)
		if (x->operands[i].type != X86_OP_REG && x->operands[i].type != X86_OP_IMM)
			return false;
	return true;
}

static bool conditional_jump(csh cs, const cs_insn *in)
{
	return cs_insn_group(cs, in, CS_GRP_JUMP) && in->id != X86_INS_JMP &&
	       in->id != X86_INS_LJMP;
}

size_t probe_site_entry_skip(const uint8_t *code, size_t len, uint64_t addr)
{
	size_t n, skip = 0;
	cs_insn *in;
	csh cs;

	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
		return 0;
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	n = cs_disasm(cs, code, len, addr, 2, &in);
	if (n == 2 && flags_only(&in[0]) && conditional_jump(cs, &in[1]))
		skip = in[0].size;
	if (n)
		cs_free(in, n);
	cs_close(&cs);
	return skip;
}
