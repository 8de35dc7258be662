/* haktrace.h — declarations shared by the haktrace command's files. */
#ifndef HAKTRACE_H
#define HAKTRACE_H

#include <stdbool.h>
#include <stdint.h>

enum { HK_EXIT_OK = 0, HK_EXIT_INPUT = 2, HK_EXIT_INTERNAL = 4 };

int hk_exit_code(int rc);
bool hk_is_help(const char *arg);
void hk_progress_start(const char *what);
void hk_progress(uint64_t n);
void hk_progress_end(void);
int hk_cmd_gen(int argc, char **argv);

#endif
