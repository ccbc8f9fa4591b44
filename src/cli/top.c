// SPDX-License-Identifier: GPL-2.0
/*
 * The screen of `pymem-bpf top`.  It speaks a handful of ECMA-48 sequences
 * (cursor home, erase line, the alternate screen) that every terminal
 * people run this in understands (xterm and its kin, tmux, screen, the
 * Linux console), with termios for unbuffered keys.  ncurses would own
 * stdin, stdout and the signals, while the session needs SIGINT and
 * SIGTERM to reach the allocator's restore, and its stderr messages; a
 * full redraw each second needs none of its screen optimisation.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include "top.h"

#define ALT_SCREEN_ON	"\033[?1049h\033[?25l"	/* and hide the cursor */
#define ALT_SCREEN_OFF	"\033[?25h\033[?1049l"
#define HOME		"\033[H"
#define ERASE_LINE	"\033[K"
#define ERASE_BELOW	"\033[J"
#define REVERSE		"\033[7m"
#define PLAIN		"\033[0m"

/* Lines the screen uses besides the table's rows: ours, its title, header, total, dropped. */
#define CHROME_LINES	7

struct top_ui {
	struct termios saved;
	struct sigaction saved_winch;
	struct top_opts o;		/* o.sort is what the keys set */
	enum pm_view view;
	char what[128];
	bool paused;
};

static volatile sig_atomic_t resized;

static void on_winch(int sig)
{
	resized = 1;
}

static void put(const char *s, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(STDOUT_FILENO, s, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		s += n;
		len -= n;
	}
}

struct top_ui *top_ui_open(const struct top_opts *o, enum pm_view view, const char *what)
{
	struct sigaction sa = { .sa_handler = on_winch, .sa_flags = SA_RESTART };
	struct termios raw;
	struct top_ui *ui;

	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
		return NULL;
	ui = calloc(1, sizeof(*ui));
	if (!ui)
		return NULL;
	if (tcgetattr(STDIN_FILENO, &ui->saved)) {
		free(ui);
		return NULL;
	}
	ui->o = *o;
	ui->o.sort = top_rank(o, view, true);
	ui->view = view;
	snprintf(ui->what, sizeof(ui->what), "%s", what);
	/* keys one at a time and unechoed; ^C still raises SIGINT */
	raw = ui->saved;
	raw.c_lflag &= ~(ICANON | ECHO);
	raw.c_cc[VMIN] = 0;
	raw.c_cc[VTIME] = 0;
	tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGWINCH, &sa, &ui->saved_winch);
	put(ALT_SCREEN_ON, strlen(ALT_SCREEN_ON));
	top_ui_draw(ui, NULL);
	return ui;
}

void top_ui_close(struct top_ui *ui)
{
	if (!ui)
		return;
	put(ALT_SCREEN_OFF, strlen(ALT_SCREEN_OFF));
	tcsetattr(STDIN_FILENO, TCSANOW, &ui->saved);
	sigaction(SIGWINCH, &ui->saved_winch, NULL);
	free(ui);
}

bool top_ui_paused(const struct top_ui *ui)
{
	return ui->paused;
}

/* The keys that rank, as the second header line lists them. */
static const struct {
	char key;
	enum top_col col;
} rank_keys[] = {
	{ 'l', TOP_LIVE }, { 'a', TOP_ALLOC }, { 'r', TOP_RATE }, { 'f', TOP_FREED },
};

/* Act on one key; false if it means nothing here. */
static bool key(struct top_ui *ui, char k, bool *quit)
{
	size_t i;

	for (i = 0; i < sizeof(rank_keys) / sizeof(rank_keys[0]); i++) {
		if (rank_keys[i].key == k) {
			ui->o.sort = rank_keys[i].col;
			return true;
		}
	}
	if (k == ' ' || k == 'p')
		ui->paused = !ui->paused;
	else if (k == 'q')
		*quit = true;
	else
		return false;
	return true;
}

bool top_ui_keys(struct top_ui *ui, bool *quit)
{
	bool redraw = resized;
	char keys[64];
	ssize_t n, i;

	resized = 0;
	n = read(STDIN_FILENO, keys, sizeof(keys));
	for (i = 0; i < n; i++)
		redraw |= key(ui, keys[i], quit);
	return redraw;
}

static void term_size(int *rows, int *cols)
{
	struct winsize ws;

	*rows = 24;
	*cols = 80;
	if (!ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_row && ws.ws_col) {
		*rows = ws.ws_row;
		*cols = ws.ws_col;
	}
}

/* @line cut to @cols characters (UTF-8 continuation bytes take no column). */
static void put_line(FILE *f, const char *line, size_t len, int cols)
{
	size_t i;
	int used = 0;

	for (i = 0; i < len; i++) {
		if (((unsigned char)line[i] & 0xc0) != 0x80 && used++ == cols)
			break;
		fputc(line[i], f);
	}
	fputs(ERASE_LINE "\n", f);
}

/* The table for @p, in @rows rows at most, each line cut to the terminal's width. */
static void put_table(FILE *f, const struct top_ui *ui, const struct pm_profile *p, int rows,
		      int cols)
{
	struct top_opts o = ui->o;
	char *buf = NULL, *line, *nl;
	size_t len = 0;
	FILE *m;

	if (rows < 1)
		rows = 1;
	if (!o.rows || o.rows > (size_t)rows)
		o.rows = rows;
	m = open_memstream(&buf, &len);
	if (!m)
		return;
	output_top_print(p, ui->view, &o, m);
	fclose(m);
	for (line = buf; line && *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			break;
		put_line(f, line, nl - line, cols);
	}
	free(buf);
}

void top_ui_draw(struct top_ui *ui, const struct pm_profile *p)
{
	static const char keys_line[] = "rank by: l live  a alloc  r rate  f freed<1ms   "
					"space pause   q quit";
	static const char wait_line[] = "waiting for the first snapshot...";
	char *buf = NULL, head[256], iv[64] = "", b[32];
	int rows, cols, n;
	size_t len = 0;
	FILE *m;

	term_size(&rows, &cols);
	m = open_memstream(&buf, &len);
	if (!m)
		return;
	fputs(HOME, m);
	if (p && p->sample_interval)
		snprintf(iv, sizeof(iv), ", sampled per %s%s", fmt_bytes(p->sample_interval, b,
			 sizeof(b)), p->max_overhead > 0 ? " (adapting)" : "");
	n = snprintf(head, sizeof(head), "pymem-bpf top: %s%s%s", ui->what, iv,
		     ui->paused ? "   PAUSED" : "");
	fputs(REVERSE, m);
	put_line(m, head, n < 0 ? 0 : strnlen(head, sizeof(head)), cols);
	fputs(PLAIN, m);
	put_line(m, keys_line, strlen(keys_line), cols);
	if (p)
		put_table(m, ui, p, rows - CHROME_LINES, cols);
	else
		put_line(m, wait_line, strlen(wait_line), cols);
	fputs(ERASE_BELOW, m);
	fclose(m);
	put(buf, len);
	free(buf);
}
