// SPDX-License-Identifier: GPL-2.0
/* A libc function entered past its probe point (see libc_detour.h). */
#include <string.h>
#include <capstone/capstone.h>
#include "libc_detour.h"

/* jmp *0(%rip), then the target: 14 bytes, reaching anywhere */
static bool jump_abs(struct libc_detour *d, uint64_t to)
{
	static const uint8_t jmp[] = { 0xff, 0x25, 0, 0, 0, 0 };

	if (d->len + sizeof(jmp) + 8 > sizeof(d->code))
		return false;
	memcpy(d->code + d->len, jmp, sizeof(jmp));
	memcpy(d->code + d->len + sizeof(jmp), &to, 8);
	d->len += sizeof(jmp) + 8;
	return true;
}

/* A conditional jump's condition, from its opcode (0x7X, or 0x0f 0x8X); -1 if none */
static int condition(const cs_insn *in)
{
	if (in->size == 2 && (in->bytes[0] & 0xf0) == 0x70)
		return in->bytes[0] & 0x0f;
	if (in->size == 6 && in->bytes[0] == 0x0f && (in->bytes[1] & 0xf0) == 0x80)
		return in->bytes[1] & 0x0f;
	return -1;
}

static bool rip_relative(const cs_insn *in)
{
	const cs_x86 *x = &in->detail->x86;
	int i;

	for (i = 0; i < x->op_count; i++)
		if (x->operands[i].type == X86_OP_MEM && x->operands[i].mem.base == X86_REG_RIP)
			return true;
	return false;
}

/*
 * One instruction, moved: as it is, or a conditional jump as the opposite
 * condition's jump over an absolute jump to its target.
 */
static bool move(csh cs, const cs_insn *in, struct libc_detour *d)
{
	int cc;

	if (cs_insn_group(cs, in, CS_GRP_JUMP)) {
		cc = condition(in);
		if (cc < 0 || in->detail->x86.operands[0].type != X86_OP_IMM ||
		    d->len + 2 > sizeof(d->code))
			return false;
		d->code[d->len++] = 0x70 | (cc ^ 1);	/* the opposite condition */
		d->code[d->len++] = 14;			/* over the absolute jump */
		return jump_abs(d, (uint64_t)in->detail->x86.operands[0].imm);
	}
	if (cs_insn_group(cs, in, CS_GRP_CALL) || cs_insn_group(cs, in, CS_GRP_RET) ||
	    cs_insn_group(cs, in, CS_GRP_INT) || cs_insn_group(cs, in, CS_GRP_IRET) ||
	    rip_relative(in) || d->len + in->size > sizeof(d->code))
		return false;
	memcpy(d->code + d->len, in->bytes, in->size);
	d->len += in->size;
	return true;
}

bool libc_detour_make(const uint8_t *code, size_t len, uint64_t addr, size_t probe_off,
		      struct libc_detour *out)
{
	size_t n, i, covered = 0;
	bool ok = true;
	cs_insn *in;
	csh cs;

	memset(out, 0, sizeof(*out));
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
		return false;
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	n = cs_disasm(cs, code, len, addr, 0, &in);
	/* through the probed instruction, which must start where the probe is */
	for (i = 0; i < n && ok && covered <= probe_off; i++) {
		ok = in[i].address == addr + covered && move(cs, &in[i], out);
		covered += in[i].size;
	}
	ok = ok && i > 0 && covered > probe_off && covered - in[i - 1].size == probe_off &&
	     jump_abs(out, addr + covered);
	if (n)
		cs_free(in, n);
	cs_close(&cs);
	if (!ok)
		memset(out, 0, sizeof(*out));
	return ok;
}
