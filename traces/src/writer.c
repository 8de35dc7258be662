/* writer.c — the writer object: picks the encoder by extension, checks
 * each event (limits always, liveness and thread rules unless told not to)
 * before encoding it, and computes the header's counts.  Invariant: the
 * final path appears only after a complete, valid trace was written.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void werr(ht_writer *w, int code, const char *fmt, const char *a, const char *b)
{
    char msg[HT_ERROR_MAX];
    ht_fmt(msg, sizeof msg, fmt, a, b);
    ht_fmt(w->error, sizeof w->error, "%s: %s", w->path, msg);
    hc_text_escape_controls(w->error, sizeof w->error);
    w->status = code;
}

int ht_writer_open(const char *path, const char *meta_json, unsigned flags, ht_writer **out,
                   ht_error *err)
{
    *out = NULL;
    err->text[0] = '\0';
    const ht_encoder *en;
    ht_encoding enc = ht_encoding_from_path(path);
    switch (enc) {
    case HT_ENC_JSON: en = &ht_json_encoder; break;
    case HT_ENC_JSONL: en = &ht_jsonl_encoder; break;
    case HT_ENC_HKT: en = &ht_hkt_encoder; break;
    default:
        ht_fmt(err->text, sizeof err->text,
               "%s: unknown trace encoding (the name must end in .json, .jsonl or .hkt)", path);
        return HT_EUSAGE;
    }
    ht_writer *w = calloc(1, sizeof *w);
    if (!w) {
        ht_fmt(err->text, sizeof err->text, "%s: out of memory", path);
        return HT_ENOMEM;
    }
    w->path = strdup(path);
    if (!w->path) {
        free(w);
        ht_fmt(err->text, sizeof err->text, "%s: out of memory", path);
        return HT_ENOMEM;
    }
    w->enc = enc;
    w->en = en;
    w->flags = flags;
    char msg[256];
    int rc = ht_meta_normalize(meta_json, meta_json ? strlen(meta_json) : 0, &w->meta_json, msg,
                               sizeof msg);
    if (rc < 0) {
        ht_fmt(err->text, sizeof err->text, "%s: %s", path, msg);
        free(w->path);
        free(w);
        return rc == HT_EFORMAT ? HT_EUSAGE : rc;
    }
    if (!(flags & HT_WRITE_NO_VALIDATE)) {
        if (ht_validator_init(&w->val, 0) < 0) { /* the count comes from the events */
            free(w->meta_json);
            free(w->path);
            free(w);
            ht_fmt(err->text, sizeof err->text, "%s: out of memory", path);
            return HT_ENOMEM;
        }
        w->validate = true;
    }
    rc = ht_out_open(&w->out, path);
    if (rc == 0)
        rc = en->begin(w);
    if (rc < 0) {
        ht_fmt(err->text, sizeof err->text, "%s: cannot write: %s", path,
               ht_out_strerror(w->out.err ? w->out.err : ENOMEM));
        ht_writer_abort(w);
        return rc;
    }
    *out = w;
    return 0;
}

/* The limits check of the two commonest events, inline; the rest and every
 * failure go through ht_event_check, which also words the message. */
static inline bool plain_alloc_or_free(const ht_event *ev)
{
    if (ev->tid >= HT_MAX_THREADS || ev->id > HT_MAX_ID || (ev->parent | ev->new_id | ev->n | ev->align))
        return false;
    return (ev->op == HT_OP_ALLOC && ev->size <= HT_MAX_SIZE) ||
           (ev->op == HT_OP_FREE && ev->size == 0);
}

int ht_writer_write(ht_writer *w, const ht_event *ev)
{
    if (HT_UNLIKELY(w->status < 0))
        return w->status;
    /* What the reader would refuse is not written: an event takes at most
     * 160 bytes, the end of the document 4. */
    if (HT_UNLIKELY(w->enc == HT_ENC_JSON && ht_out_pos(&w->out) + 164 > HT_MAX_JSON_BYTES)) {
        char lim[32];
        ht_fmt(lim, sizeof lim, "%llu", (unsigned long long)HT_MAX_JSON_BYTES);
        werr(w, HT_EUSAGE, "a .json trace holds at most %s bytes (the reader's limit): write big "
             "traces as .jsonl or .hkt%s", lim, "");
        return HT_EUSAGE;
    }
    char msg[256], idx[32];
    int rc = plain_alloc_or_free(ev) ? 0 : ht_event_check(ev, msg, sizeof msg);
    if (HT_LIKELY(rc == 0) && w->validate)
        rc = ht_validator_step_fast(&w->val, ev, msg, sizeof msg);
    if (HT_UNLIKELY(rc < 0)) {
        ht_fmt(idx, sizeof idx, "%llu", (unsigned long long)w->count);
        werr(w, rc, "event %s: %s", idx, msg);
        return rc;
    }
    if (ev->op == HT_OP_THREAD_START) {
        w->starts++;
        if (ev->tid > w->max_tid)
            w->max_tid = ev->tid;
    }
    if (HT_UNLIKELY(w->en->event(w, ev) < 0)) {
        werr(w, HT_EIO, "write error: %s%s", ht_out_strerror(w->out.err ? w->out.err : EIO), "");
        return HT_EIO;
    }
    w->count++;
    return 0;
}

const char *ht_writer_error(const ht_writer *w) { return w->error; }
uint64_t ht_writer_count(const ht_writer *w) { return w->count; }

int ht_writer_close(ht_writer *w, ht_error *err)
{
    err->text[0] = '\0';
    int rc = w->status;
    if (rc == 0 && w->validate) {
        char msg[256];
        rc = ht_validator_finish(&w->val, msg, sizeof msg);
        if (rc < 0)
            werr(w, rc, "%s%s", msg, "");
    }
    if (rc == 0 && w->max_tid + 1 != ht_writer_threads(w)) {
        werr(w, HT_EFORMAT, "thread ids are not dense (%s)%s", "tids must be 0 .. threads-1", "");
        rc = HT_EFORMAT;
    }
    if (rc == 0 && w->en->end(w) < 0) {
        werr(w, HT_EIO, "write error: %s%s", ht_out_strerror(w->out.err ? w->out.err : EIO), "");
        rc = HT_EIO;
    }
    if (rc == 0 && ht_out_commit(&w->out) < 0) {
        werr(w, HT_EIO, "cannot finish the file: %s%s",
             ht_out_strerror(w->out.err ? w->out.err : EIO), "");
        rc = HT_EIO;
    }
    if (rc < 0)
        ht_fmt(err->text, sizeof err->text, "%s", w->error);
    ht_writer_abort(w);
    return rc;
}

void ht_writer_abort(ht_writer *w)
{
    if (!w)
        return;
    ht_out_abort(&w->out);
    if (w->validate)
        ht_validator_free(&w->val);
    free(w->meta_json);
    free(w->path);
    free(w);
}
