// SPDX-License-Identifier: GPL-2.0
/* The churn answer: how much died young, and where. */
#include <stdlib.h>
#include "output_top.h"
#include "summary.h"

/* Places named in the churn line, at most. */
#define SUMMARY_PLACES	3

bool summary_churn_dominates(const struct pm_profile *p)
{
	return p->totals.alloc_bytes && p->totals.freed_within[0] > p->totals.alloc_bytes / 2;
}

/* @out: one single-frame stack per named frame, its freed_within[0] summed. */
static int by_place(const struct pm_profile *p, const struct where_rule *w,
		    struct pm_profile *out)
{
	const struct pm_frame *fr;
	struct pm_counts c = {};
	size_t i;
	int err;

	for (i = 0; i < p->nstacks; i++) {
		const struct pm_stack *s = &p->stacks[i];

		if (!s->c.freed_within[0])
			continue;
		fr = where_frame(s->frames, s->nframes, w);
		c.freed_within[0] = s->c.freed_within[0];
		err = pm_profile_add(out, fr, fr ? 1 : 0, &c);
		if (err)
			return err;
	}
	return 0;
}

static uint64_t freed_1ms(const struct pm_stack *s)
{
	return s->c.freed_within[0];
}

void summary_churn_print(const struct pm_profile *p, const struct where_rule *w, FILE *f)
{
	char freed[32], alloc[32], b[32];
	const struct pm_stack **order = NULL;
	struct pm_profile places = {};
	size_t i;
	char *label;

	if (!summary_churn_dominates(p))
		return;
	fprintf(f, "churn: %s of %s allocated were freed within 1 ms",
		fmt_bytes(p->totals.freed_within[0], freed, sizeof(freed)),
		fmt_bytes(p->totals.alloc_bytes, alloc, sizeof(alloc)));
	if (p->sample_interval)
		fprintf(f, " (estimated, sampled per %s)",
			fmt_bytes(p->sample_interval, b, sizeof(b)));
	if (!by_place(p, w, &places))
		order = pm_profile_order_by(&places, freed_1ms);
	if (order) {
		for (i = 0; i < places.nstacks && i < SUMMARY_PLACES; i++) {
			const struct pm_stack *s = order[i];

			label = where_label(s->nframes ? s->frames : NULL, w);
			fprintf(f, "%s%s %s", i ? ", " : ": ", label ? label : "?",
				fmt_bytes(s->c.freed_within[0], b, sizeof(b)));
			free(label);
		}
	}
	fputc('\n', f);
	free(order);
	pm_profile_free(&places);
}

enum pm_view summary_pick_view(const struct pm_profile *p, char *why, size_t len)
{
	char freed[32], alloc[32], live[32], iv[32], sampled[96] = "";
	const struct pm_counts *t = &p->totals;
	enum pm_view v = PM_VIEW_LIVE_BYTES;
	int n;

	fmt_bytes(t->freed_within[0], freed, sizeof(freed));
	fmt_bytes(t->alloc_bytes, alloc, sizeof(alloc));
	fmt_bytes(t->live_bytes, live, sizeof(live));
	if (p->sample_interval)
		snprintf(sampled, sizeof(sampled), " Sampled: one allocation per %s on average, "
			 "every figure an estimate.", fmt_bytes(p->sample_interval, iv, sizeof(iv)));
	if (summary_churn_dominates(p)) {
		n = snprintf(why, len, "Opened on allocated bytes: %s of the %s allocated were "
			     "freed within 1 ms of their allocation, so churn, not what is held "
			     "(%s live), is what this capture shows.", freed, alloc, live);
		v = PM_VIEW_ALLOC_BYTES;
	} else {
		n = snprintf(why, len, "Opened on live bytes: %s of the %s allocated were freed "
			     "within 1 ms, so what is held (%s live) is what this capture shows.",
			     freed, alloc, live);
	}
	if (n >= 0 && (size_t)n < len)
		snprintf(why + n, len - n, "%s", sampled);
	return v;
}
