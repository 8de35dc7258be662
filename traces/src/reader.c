/* reader.c — the reader object: opening by extension, the shared event
 * loop (backend decode, then validation, then the end-of-trace checks) and
 * error formatting "FILE:LINE: event N: problem".  Invariant: once a reader
 * has failed or finished, ht_reader_next keeps returning that result.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

ht_encoding ht_encoding_from_path(const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash))
        return HT_ENC_NONE;
    if (strcmp(dot, ".json") == 0)
        return HT_ENC_JSON;
    if (strcmp(dot, ".jsonl") == 0)
        return HT_ENC_JSONL;
    if (strcmp(dot, ".hkt") == 0)
        return HT_ENC_HKT;
    return HT_ENC_NONE;
}

void ht_format_error(char *buf, size_t len, const char *path, ht_loc loc, uint64_t event,
                     const char *problem)
{
    char where[48], what[48];
    if (loc.is_offset)
        snprintf(where, sizeof where, "offset %llu", (unsigned long long)loc.at);
    else
        snprintf(where, sizeof where, "%llu", (unsigned long long)loc.at);
    if (event == HT_EVENT_NONE)
        snprintf(what, sizeof what, "header");
    else if (event == HT_EVENT_DOC)
        snprintf(what, sizeof what, "document");
    else
        snprintf(what, sizeof what, "event %llu", (unsigned long long)event);
    ht_fmt(buf, len, "%s:%s: %s: %s", path, where, what, problem);
    /* One line, whatever the problem quotes from the input: control bytes
     * (a newline, a terminal escape) are shown as \xNN. */
    hc_text_escape_controls(buf, len);
}

int ht_rfail(ht_reader *r, int code, ht_loc loc, uint64_t event, const char *fmt, ...)
{
    char problem[HT_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(problem, sizeof problem, fmt, ap);
    va_end(ap);
    ht_format_error(r->error, sizeof r->error, r->path, loc, event, problem);
    r->status = code;
    return code;
}

int ht_slurp(const char *path, size_t max, char **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return HT_EIO;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (n > max) {
            free(buf);
            fclose(f);
            return HT_EFORMAT;
        }
        if (n < cap)
            break;
        char *nb = realloc(buf, cap * 2 + 1);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf)
        return HT_ENOMEM;
    if (bad) {
        free(buf);
        return HT_EIO;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

int ht_meta_normalize(const char *text, size_t len, char **out, char *msg, size_t msglen)
{
    json_error_t jerr;
    json_t *m = text ? json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr) : json_object();
    if (!m) {
        ht_fmt(msg, msglen, "meta is not valid JSON: %s", jerr.text);
        return HT_EFORMAT;
    }
    if (!json_is_object(m)) {
        json_decref(m);
        ht_fmt(msg, msglen, "meta is not a JSON object");
        return HT_EFORMAT;
    }
    *out = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(m);
    if (!*out) {
        ht_fmt(msg, msglen, "out of memory");
        return HT_ENOMEM;
    }
    if (strlen(*out) > HT_MAX_META) {
        ht_fmt(msg, msglen, "meta of %zu bytes exceeds the limit of %u", strlen(*out), HT_MAX_META);
        free(*out);
        *out = NULL;
        return HT_EFORMAT;
    }
    return 0;
}

static void reader_free(ht_reader *r)
{
    if (r->be && r->be->close)
        r->be->close(r);
    if (r->validate)
        ht_validator_free(&r->val);
    free(r->meta_json);
    free(r->path);
    free(r);
}

int ht_reader_open(const char *path, unsigned flags, ht_reader **out, ht_error *err)
{
    *out = NULL;
    err->text[0] = '\0';
    ht_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        ht_fmt(err->text, sizeof err->text, "%s: out of memory", path);
        return HT_ENOMEM;
    }
    r->flags = flags;
    r->enc = ht_encoding_from_path(path);
    r->header.event_count = -1;
    int rc;
    switch (r->enc) {
    case HT_ENC_JSON: rc = ht_json_open(r, err); break;
    case HT_ENC_JSONL: rc = ht_jsonl_open(r, err); break;
    case HT_ENC_HKT: rc = ht_hkt_open(r, err); break;
    default:
        ht_fmt(err->text, sizeof err->text,
               "%s: unknown trace encoding (the name must end in .json, .jsonl or .hkt)", path);
        rc = HT_EUSAGE;
    }
    if (rc == 0 && !(flags & HT_READ_NO_VALIDATE)) {
        if (ht_validator_init(&r->val, r->header.threads) < 0) {
            ht_fmt(err->text, sizeof err->text, "%s: out of memory", path);
            rc = HT_ENOMEM;
        } else {
            r->validate = true;
        }
    }
    if (rc < 0) {
        if (!err->text[0])
            ht_fmt(err->text, sizeof err->text, "%s", r->error[0] ? r->error : "cannot open");
        hc_text_escape_controls(err->text, sizeof err->text);
        reader_free(r);
        return rc;
    }
    r->header.meta_json = r->meta_json;
    *out = r;
    return 0;
}

int ht_reader_next(ht_reader *r, ht_event *ev)
{
    if (HT_UNLIKELY(r->status != 0))
        return r->status > 0 ? 0 : r->status;
    int rc = r->be->next(r, ev);
    if (HT_UNLIKELY(rc <= 0)) {
        if (rc < 0)
            return rc;
        /* The end: counts must agree with the body. */
        char msg[256];
        if (r->header.event_count >= 0 && (uint64_t)r->header.event_count != r->index)
            return ht_rfail(r, HT_EFORMAT, r->header_loc, HT_EVENT_NONE,
                            "the header says %lld events but the body has %llu",
                            (long long)r->header.event_count, (unsigned long long)r->index);
        if (r->validate && ht_validator_finish(&r->val, msg, sizeof msg) < 0)
            return ht_rfail(r, HT_EFORMAT, r->header_loc, HT_EVENT_NONE, "%s", msg);
        r->status = 1;
        return 0;
    }
    if (r->validate) {
        char msg[256];
        int vr = ht_validator_step_fast(&r->val, ev, msg, sizeof msg);
        if (HT_UNLIKELY(vr < 0))
            return ht_rfail(r, vr, r->loc, r->index, "%s", msg);
    }
    r->index++;
    return 1;
}

const ht_header *ht_reader_header(const ht_reader *r) { return &r->header; }
const char *ht_reader_error(const ht_reader *r) { return r->error; }
uint64_t ht_reader_index(const ht_reader *r) { return r->index; }
void ht_reader_close(ht_reader *r)
{
    if (r)
        reader_free(r);
}
