/* haktrace.c — the `haktrace` command: validate, convert, stats (and gen,
 * in haktrace_gen.c; record, in haktrace_record.c).  Turns library errors
 * into one line on stderr and the project's exit codes: 0 success, 2 bad
 * input or usage, 4 internal.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "haktrace.h"
#include "ht_stats.h"
#include "ht_trace.h"

int hk_cmd_record(int argc, char **argv); /* haktrace_record.c */

int hk_exit_code(int rc)
{
    return rc == HT_ENOMEM ? HK_EXIT_INTERNAL : rc < 0 ? HK_EXIT_INPUT : HK_EXIT_OK;
}

bool hk_is_help(const char *a) { return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0; }

/* ---- progress on a terminal --------------------------------------- */

static bool progress_on = false;
static const char *progress_what = "";

void hk_progress_start(const char *what)
{
    progress_on = isatty(STDERR_FILENO);
    progress_what = what;
}

void hk_progress(uint64_t n)
{
    if (progress_on && (n & ((1u << 22) - 1)) == 0 && n > 0)
        fprintf(stderr, "\rhaktrace: %s %llu M events", progress_what,
                (unsigned long long)(n >> 20));
}

void hk_progress_end(void)
{
    if (progress_on)
        fprintf(stderr, "\r\033[K");
    progress_on = false;
}

/* ---- validate ------------------------------------------------------- */

static const char validate_help[] =
    "usage: haktrace validate [--mmap] [--] FILE...\n"
    "Checks each trace (.json, .jsonl, .hkt) against every rule of docs/trace-format.md.\n"
    "Prints 'FILE: ok, N events, T threads' for a valid trace; otherwise one line\n"
    "'FILE:LINE: event N: problem' (LINE is 'offset B' for .hkt) and exits 2.\n"
    "--mmap reads .hkt files through a mapping instead of pread windows.\n";

static int cmd_validate(int argc, char **argv)
{
    if (argc < 2 || hk_is_help(argv[1])) {
        fputs(validate_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? HK_EXIT_INPUT : HK_EXIT_OK;
    }
    int worst = HK_EXIT_OK;
    unsigned flags = 0;
    /* Options first (an unknown one is an error, not a file name); "--"
     * ends them, for files whose names start with '-'. */
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (strcmp(argv[i], "--mmap") != 0) {
            fprintf(stderr, "haktrace validate: unknown option '%s' (try --help)\n", argv[i]);
            return HK_EXIT_INPUT;
        }
        flags |= HT_READ_MMAP;
    }
    if (i == argc) {
        fputs(validate_help, stderr);
        return HK_EXIT_INPUT;
    }
    for (; i < argc; i++) {
        ht_reader *r;
        ht_error err;
        int rc = ht_reader_open(argv[i], flags, &r, &err);
        if (rc < 0) {
            fprintf(stderr, "%s\n", err.text);
            if (hk_exit_code(rc) > worst)
                worst = hk_exit_code(rc);
            continue;
        }
        ht_event ev;
        hk_progress_start("validated");
        for (uint64_t n = 1; (rc = ht_reader_next(r, &ev)) > 0; n++)
            if ((n & 0xffff) == 0)
                hk_progress(n);
        hk_progress_end();
        if (rc < 0) {
            fprintf(stderr, "%s\n", ht_reader_error(r));
            if (hk_exit_code(rc) > worst)
                worst = hk_exit_code(rc);
        } else {
            printf("%s: ok, %llu events, %u threads\n", argv[i],
                   (unsigned long long)ht_reader_index(r), ht_reader_header(r)->threads);
        }
        ht_reader_close(r);
    }
    return worst;
}

/* ---- convert -------------------------------------------------------- */

static const char convert_help[] =
    "usage: haktrace convert IN OUT\n"
    "Rewrites trace IN in the encoding OUT's extension names (.json, .jsonl, .hkt).\n"
    "IN is validated as it streams; OUT is written to a temporary file and renamed,\n"
    "so it appears only when complete.  Lossless in every direction (meta included).\n";

static int cmd_convert(int argc, char **argv)
{
    if (argc >= 2 && hk_is_help(argv[1])) {
        fputs(convert_help, stdout);
        return HK_EXIT_OK;
    }
    for (int i = 1; i < argc; i++)
        if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "haktrace convert: unknown option '%s' (try --help)\n", argv[i]);
            return HK_EXIT_INPUT;
        }
    if (argc != 3) {
        fputs(convert_help, stderr);
        return HK_EXIT_INPUT;
    }
    ht_reader *r;
    ht_writer *w;
    ht_error err;
    int rc = ht_reader_open(argv[1], 0, &r, &err);
    if (rc < 0) {
        fprintf(stderr, "%s\n", err.text);
        return hk_exit_code(rc);
    }
    rc = ht_writer_open(argv[2], ht_reader_header(r)->meta_json, HT_WRITE_NO_VALIDATE, &w, &err);
    if (rc < 0) {
        fprintf(stderr, "%s\n", err.text);
        ht_reader_close(r);
        return hk_exit_code(rc);
    }
    ht_event ev;
    hk_progress_start("converted");
    while ((rc = ht_reader_next(r, &ev)) > 0) {
        if ((rc = ht_writer_write(w, &ev)) < 0)
            break;
        if ((ht_writer_count(w) & 0xffff) == 0)
            hk_progress(ht_writer_count(w));
    }
    hk_progress_end();
    if (rc < 0) {
        fprintf(stderr, "%s\n", ht_reader_error(r)[0] ? ht_reader_error(r) : ht_writer_error(w));
        ht_writer_abort(w);
    } else if ((rc = ht_writer_close(w, &err)) < 0) {
        fprintf(stderr, "%s\n", err.text);
    }
    ht_reader_close(r);
    return hk_exit_code(rc);
}

/* ---- stats ---------------------------------------------------------- */

static const char stats_help[] =
    "usage: haktrace stats [--json] FILE\n"
    "Validates FILE and prints: events by op, threads, the most threads running at once,\n"
    "peak live blocks and bytes, the fraction of frees (free and realloc) made by a thread\n"
    "other than the allocating one, and a histogram of requested sizes by power of two.\n"
    "--json prints the same as one JSON object.\n";

static json_t *stats_json(const char *path, const ht_stats *s)
{
    json_t *o = json_object(), *ops = json_object(), *hist = json_array();
    json_object_set_new(o, "file", json_string(path));
    json_object_set_new(o, "events", json_integer((json_int_t)s->events));
    for (int op = 1; op < HT_OP_COUNT; op++)
        json_object_set_new(ops, ht_op_name((ht_op)op), json_integer((json_int_t)s->by_op[op]));
    json_object_set_new(o, "by_op", ops);
    json_object_set_new(o, "threads", json_integer(s->threads));
    json_object_set_new(o, "max_concurrent_threads", json_integer(s->max_concurrent));
    json_object_set_new(o, "peak_live_blocks", json_integer((json_int_t)s->peak_live_blocks));
    json_object_set_new(o, "peak_live_bytes", json_integer((json_int_t)s->peak_live_bytes));
    json_object_set_new(o, "end_live_blocks", json_integer((json_int_t)s->live_blocks));
    json_object_set_new(o, "frees", json_integer((json_int_t)s->frees));
    json_object_set_new(o, "remote_frees", json_integer((json_int_t)s->remote_frees));
    json_object_set_new(o, "remote_free_fraction",
                        json_real(s->frees ? (double)s->remote_frees / (double)s->frees : 0.0));
    for (int b = 0; b < HT_STATS_BUCKETS; b++) {
        if (!s->size_hist[b])
            continue;
        json_t *e = json_object();
        json_object_set_new(e, "min", json_integer(b == 0 ? 0 : (json_int_t)1 << (b - 1)));
        json_object_set_new(e, "max", json_integer(b == 0 ? 0 : ((json_int_t)1 << b) - 1));
        json_object_set_new(e, "count", json_integer((json_int_t)s->size_hist[b]));
        json_array_append_new(hist, e);
    }
    json_object_set_new(o, "size_histogram", hist);
    return o;
}

static void stats_text(const char *path, const ht_stats *s)
{
    printf("file: %s\nevents: %llu\n", path, (unsigned long long)s->events);
    for (int op = 1; op < HT_OP_COUNT; op++)
        printf("  %-13s %llu\n", ht_op_name((ht_op)op), (unsigned long long)s->by_op[op]);
    printf("threads: %u\nmax concurrent threads: %u\n", s->threads, s->max_concurrent);
    printf("peak live blocks: %llu\npeak live bytes: %llu\nlive blocks at end: %llu\n",
           (unsigned long long)s->peak_live_blocks, (unsigned long long)s->peak_live_bytes,
           (unsigned long long)s->live_blocks);
    printf("frees: %llu, by another thread: %llu (%.4f)\n", (unsigned long long)s->frees,
           (unsigned long long)s->remote_frees,
           s->frees ? (double)s->remote_frees / (double)s->frees : 0.0);
    printf("size histogram (requested bytes):\n");
    for (int b = 0; b < HT_STATS_BUCKETS; b++) {
        if (!s->size_hist[b])
            continue;
        if (b == 0)
            printf("  %21s %llu\n", "0", (unsigned long long)s->size_hist[b]);
        else
            printf("  %10llu..%-10llu %llu\n", 1ull << (b - 1), (1ull << b) - 1,
                   (unsigned long long)s->size_hist[b]);
    }
}

static int cmd_stats(int argc, char **argv)
{
    bool as_json = false;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (hk_is_help(argv[i])) {
            fputs(stats_help, stdout);
            return HK_EXIT_OK;
        } else if (strcmp(argv[i], "--json") == 0) {
            as_json = true;
        } else if (!path && argv[i][0] != '-') {
            path = argv[i];
        } else {
            fprintf(stderr, "haktrace stats: unexpected argument '%s'\n", argv[i]);
            return HK_EXIT_INPUT;
        }
    }
    if (!path) {
        fputs(stats_help, stderr);
        return HK_EXIT_INPUT;
    }
    ht_reader *r;
    ht_error err;
    int rc = ht_reader_open(path, 0, &r, &err);
    if (rc < 0) {
        fprintf(stderr, "%s\n", err.text);
        return hk_exit_code(rc);
    }
    ht_stats s;
    if (ht_stats_init(&s) < 0) {
        ht_reader_close(r);
        fprintf(stderr, "haktrace: out of memory\n");
        return HK_EXIT_INTERNAL;
    }
    ht_event ev;
    hk_progress_start("read");
    while ((rc = ht_reader_next(r, &ev)) > 0) {
        if ((rc = ht_stats_add(&s, &ev)) < 0)
            break;
        if ((s.events & 0xffff) == 0)
            hk_progress(s.events);
    }
    hk_progress_end();
    if (rc < 0) {
        fprintf(stderr, "%s\n", ht_reader_error(r)[0] ? ht_reader_error(r) : "out of memory");
    } else if (as_json) {
        json_t *o = stats_json(path, &s);
        json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        putchar('\n');
        json_decref(o);
    } else {
        stats_text(path, &s);
    }
    ht_stats_free(&s);
    ht_reader_close(r);
    return hk_exit_code(rc);
}

/* ---- main ----------------------------------------------------------- */

static const char main_help[] =
    "usage: haktrace COMMAND [ARGS]\n"
    "Traces of malloc-family events for hakmem-sim (format: docs/trace-format.md).\n\n"
    "commands:\n"
    "  gen KIND ... -o FILE   generate a workload (larson, prodcons, churn, phase)\n"
    "  validate FILE...       check traces; exit 2 with FILE:LINE: event N: problem\n"
    "  convert IN OUT         change encoding by extension (.json, .jsonl, .hkt)\n"
    "  stats [--json] FILE    events, threads, peak live set, remote-free fraction, sizes\n"
    "  record [-o FILE] -- PROGRAM ARGS...\n"
    "                         record a real program's malloc-family calls (LD_PRELOAD)\n\n"
    "'haktrace COMMAND --help' describes each.  Exit codes: 0 success, 2 bad input or\n"
    "usage, 4 internal error.\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(main_help, stderr);
        return HK_EXIT_INPUT;
    }
    const char *cmd = argv[1];
    if (hk_is_help(cmd)) {
        fputs(main_help, stdout);
        return HK_EXIT_OK;
    }
    if (strcmp(cmd, "validate") == 0)
        return cmd_validate(argc - 1, argv + 1);
    if (strcmp(cmd, "convert") == 0)
        return cmd_convert(argc - 1, argv + 1);
    if (strcmp(cmd, "stats") == 0)
        return cmd_stats(argc - 1, argv + 1);
    if (strcmp(cmd, "gen") == 0)
        return hk_cmd_gen(argc - 1, argv + 1);
    if (strcmp(cmd, "record") == 0)
        return hk_cmd_record(argc - 1, argv + 1);
    fprintf(stderr, "haktrace: unknown command '%s' (try haktrace --help)\n", cmd);
    return HK_EXIT_INPUT;
}
