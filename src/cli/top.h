/* SPDX-License-Identifier: GPL-2.0 */
/*
 * `pymem-bpf top`: the top table redrawn in place on a terminal, like
 * py-spy's top, its ranking switched by keys.
 */
#ifndef PYMEM_TOP_H
#define PYMEM_TOP_H

#include <stdbool.h>
#include "output_top.h"
#include "profile.h"

struct top_ui;

/*
 * Take over the terminal: stdin and stdout must both be one, else NULL
 * (the caller prints a table every interval instead).  @what names the
 * target in the header line.
 */
struct top_ui *top_ui_open(const struct top_opts *o, enum pm_view view, const char *what);
/* Give the terminal back as it was.  NULL is fine. */
void top_ui_close(struct top_ui *ui);

/*
 * Take the keys pressed since the last call: l, a, r, f rank by live,
 * alloc, rate and freed < 1 ms; space or p pauses; q sets *quit.  True
 * when the screen needs drawing again (a key, or the terminal resized).
 */
bool top_ui_keys(struct top_ui *ui, bool *quit);
bool top_ui_paused(const struct top_ui *ui);

/* Draw @p (NULL before the first snapshot) in the rows that fit. */
void top_ui_draw(struct top_ui *ui, const struct pm_profile *p);

#endif /* PYMEM_TOP_H */
