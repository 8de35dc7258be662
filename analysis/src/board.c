/* board.c: compare's progress on a terminal, one line per variant, redrawn
 * in place (cursor up, then each line rewritten and cleared to its end).
 * Text that must stay (a replay's messages) is printed above the board,
 * which is then drawn again below it. Lines are cut to the terminal's
 * width: a wrapped line would break the cursor arithmetic.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "internal.h"

int ha_board_init(ha_board *b, const ha_variant *v, size_t n) {
  memset(b, 0, sizeof *b);
  b->line = calloc(n, sizeof *b->line);
  if (!b->line) return -1;
  b->n = n;
  b->v = v;
  for (size_t i = 0; i < n; i++) {
    size_t len = strlen(v[i].label);
    if (len > b->width) b->width = len;
    snprintf(b->line[i], sizeof b->line[i], "waiting");
  }
  struct winsize ws;
  b->cols = ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20 ? ws.ws_col : 80;
  return 0;
}

void ha_board_free(ha_board *b) { free(b->line); }

void ha_board_set(ha_board *b, size_t i, const char *text) {
  snprintf(b->line[i], sizeof b->line[i], "%s", text);
}

void ha_board_draw(ha_board *b) {
  if (b->drawn) fprintf(stderr, "\033[%zuA", b->n);
  for (size_t i = 0; i < b->n; i++) {
    char buf[400];
    snprintf(buf, sizeof buf, "compare: %-*s  %s", (int)b->width, b->v[i].label, b->line[i]);
    if (strlen(buf) >= b->cols) buf[b->cols - 1] = '\0';
    fprintf(stderr, "\r%s\033[K\n", buf);
  }
  fflush(stderr);
  b->drawn = true;
}

void ha_board_print_above(ha_board *b, const char *text) {
  if (b->drawn) fprintf(stderr, "\033[%zuA", b->n);
  for (const char *p = text; *p;) {
    size_t len = strcspn(p, "\n");
    fprintf(stderr, "\r%.*s\033[K\n", (int)len, p);
    p += len + (p[len] == '\n');
  }
  b->drawn = false; /* the board goes below what was printed */
  ha_board_draw(b);
}
