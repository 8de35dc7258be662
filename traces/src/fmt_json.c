/* fmt_json.c — the .json encoding (one document, events as compact arrays)
 * and the JSON pieces the .jsonl encoding shares with it: the header check,
 * decoding one event from a JSON value, and formatting one event.  The
 * document is parsed whole (it is meant for small and hand-written traces);
 * a light scanner walks the text beside the parsed array so that every
 * message names the line its event starts on.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- header --------------------------------------------------------- */

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

static int get_uint(ht_reader *r, ht_loc loc, json_t *v, const char *name, uint64_t lo,
                    uint64_t hi, uint64_t *out)
{
    if (!json_is_integer(v))
        return ht_rfail(r, HT_EFORMAT, loc, HT_EVENT_NONE, "%s must be an integer, not %s", name,
                        json_kind(v));
    json_int_t x = json_integer_value(v);
    if (x < 0 || (uint64_t)x < lo || (uint64_t)x > hi)
        return ht_rfail(r, HT_EFORMAT, loc, HT_EVENT_NONE, "%s %lld out of range %llu..%llu",
                        name, (long long)x, (unsigned long long)lo, (unsigned long long)hi);
    *out = (uint64_t)x;
    return 0;
}

int ht_json_check_header(json_t *root, bool jsonl, ht_reader *r, ht_loc loc)
{
    if (!json_is_object(root))
        return ht_rfail(r, HT_EFORMAT, loc, HT_EVENT_NONE, "the header is %s, not an object",
                        json_kind(root));
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        static const char *const json_keys[] = {"format", "version", "meta", "threads", "events"};
        static const char *const jsonl_keys[] = {"format", "version", "meta", "threads",
                                                 "event_count"};
        const char *const *keys = jsonl ? jsonl_keys : json_keys;
        bool known = false;
        for (int i = 0; i < 5; i++)
            known = known || strcmp(key, keys[i]) == 0;
        if (!known)
            return ht_rfail(r, HT_EFORMAT, loc, HT_EVENT_NONE, "unknown header field \"%.64s\"",
                            key);
    }
    static const char *const required[] = {"format", "version", "meta", "threads", "events"};
    for (int i = 0; i < (jsonl ? 4 : 5); i++)
        if (!json_object_get(root, required[i]))
            return ht_rfail(r, HT_EFORMAT, loc, HT_EVENT_NONE, "missing header field \"%s\"",
                            required[i]);
    json_t *fmt = json_object_get(root, "format");
    if (!json_is_string(fmt) || strcmp(json_string_value(fmt), HT_FORMAT_NAME) != 0)
        return ht_rfail(r, HT_EFORMAT, loc, HT_EVENT_NONE,
                        "wrong format: expected \"format\": \"" HT_FORMAT_NAME "\"");
    json_t *ver = json_object_get(root, "version");
    if (!json_is_integer(ver))
        return ht_rfail(r, HT_EFORMAT, loc, HT_EVENT_NONE, "version must be an integer, not %s",
                        json_kind(ver));
    if (json_integer_value(ver) != HT_FORMAT_VERSION)
        return ht_rfail(r, HT_EFORMAT, loc, HT_EVENT_NONE,
                        "unsupported version %lld (this reader knows version %d)",
                        (long long)json_integer_value(ver), HT_FORMAT_VERSION);
    r->header.version = HT_FORMAT_VERSION;
    json_t *meta = json_object_get(root, "meta");
    if (!json_is_object(meta))
        return ht_rfail(r, HT_EFORMAT, loc, HT_EVENT_NONE, "meta must be an object, not %s",
                        json_kind(meta));
    r->meta_json = json_dumps(meta, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!r->meta_json)
        return ht_rfail(r, HT_ENOMEM, loc, HT_EVENT_NONE, "out of memory");
    if (strlen(r->meta_json) > HT_MAX_META)
        return ht_rfail(r, HT_EFORMAT, loc, HT_EVENT_NONE, "meta of %zu bytes exceeds the limit of %u",
                        strlen(r->meta_json), HT_MAX_META);
    uint64_t x;
    if (get_uint(r, loc, json_object_get(root, "threads"), "threads", 1, HT_MAX_THREADS, &x) < 0)
        return r->status;
    r->header.threads = (uint32_t)x;
    json_t *count = json_object_get(root, "event_count");
    if (count) {
        if (get_uint(r, loc, count, "event_count", 0, (uint64_t)INT64_MAX, &x) < 0)
            return r->status;
        r->header.event_count = (int64_t)x;
    }
    if (!jsonl && !json_is_array(json_object_get(root, "events")))
        return ht_rfail(r, HT_EFORMAT, loc, HT_EVENT_NONE, "events must be an array, not %s",
                        json_kind(json_object_get(root, "events")));
    return 0;
}

/* ---- one event ------------------------------------------------------ */

int ht_json_decode_event(json_t *v, ht_event *ev, char *msg, size_t len)
{
    if (!json_is_array(v)) {
        ht_fmt(msg, len, "an event must be an array [op, fields...], not %s", json_kind(v));
        return HT_EFORMAT;
    }
    size_t n = json_array_size(v);
    json_t *opv = json_array_get(v, 0);
    if (!opv) {
        ht_fmt(msg, len, "empty event (no op)");
        return HT_EFORMAT;
    }
    if (!json_is_string(opv)) {
        ht_fmt(msg, len, "the op must be a string, not %s", json_kind(opv));
        return HT_EFORMAT;
    }
    const char *name = json_string_value(opv);
    ht_op op = ht_op_lookup(name, json_string_length(opv));
    if (!op) {
        ht_fmt(msg, len, "unknown op \"%.40s\"", name);
        return HT_EFORMAT;
    }
    const ht_opdesc *d = &ht_ops[op];
    if (n - 1 < (size_t)d->nfields) {
        ht_fmt(msg, len, "missing field: %s takes %s", d->name, d->signature);
        return HT_EFORMAT;
    }
    if (n - 1 > (size_t)d->nfields) {
        ht_fmt(msg, len, "extra field: %s takes %s", d->name, d->signature);
        return HT_EFORMAT;
    }
    uint64_t f[4] = {0, 0, 0, 0};
    for (int i = 0; i < d->nfields; i++) {
        json_t *x = json_array_get(v, (size_t)i + 1);
        const char *fname = ht_field_name(d->fields[i]);
        if (!json_is_integer(x)) {
            ht_fmt(msg, len, "field %s must be an integer, not %s", fname, json_kind(x));
            return HT_EFORMAT;
        }
        json_int_t val = json_integer_value(x);
        if (val < 0) {
            ht_fmt(msg, len, "field %s is negative (%lld)", fname, (long long)val);
            return HT_EFORMAT;
        }
        f[i] = (uint64_t)val;
    }
    return ht_event_set_fields(ev, op, f, msg, len);
}

static char *put_u64(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

size_t ht_json_format_event(const ht_event *ev, char *buf)
{
    const ht_opdesc *d = &ht_ops[ev->op];
    uint64_t f[4];
    ht_event_get_fields(ev, f);
    char *p = buf;
    *p++ = '[';
    *p++ = '"';
    size_t nl = strlen(d->name);
    memcpy(p, d->name, nl);
    p += nl;
    *p++ = '"';
    for (int i = 0; i < d->nfields; i++) {
        *p++ = ',';
        p = put_u64(p, f[i]);
    }
    *p++ = ']';
    return (size_t)(p - buf);
}

/* ---- locating events in the text ----------------------------------- */

typedef struct scan {
    const char *s;
    size_t len, pos;
    uint64_t line;
    bool ok;
} scan;

static void sc_ws(scan *c)
{
    while (c->pos < c->len) {
        char ch = c->s[c->pos];
        if (ch == '\n')
            c->line++;
        else if (ch != ' ' && ch != '\t' && ch != '\r')
            return;
        c->pos++;
    }
}

/* Skips one JSON value (the text is known to be valid JSON). */
static void sc_value(scan *c)
{
    int depth = 0;
    bool in_str = false;
    while (c->pos < c->len) {
        char ch = c->s[c->pos];
        if (in_str) {
            if (ch == '\\')
                c->pos++;
            else if (ch == '"') {
                in_str = false;
                if (depth == 0) {
                    c->pos++;
                    return;
                }
            }
        } else if (ch == '"') {
            in_str = true;
        } else if (ch == '[' || ch == '{') {
            depth++;
        } else if (ch == ']' || ch == '}') {
            if (depth == 0)
                return;
            if (--depth == 0) {
                c->pos++;
                return;
            }
        } else if (depth == 0 && (ch == ',' || ch == ' ' || ch == '\n' || ch == '\t' ||
                                  ch == '\r')) {
            return;
        } else if (ch == '\n') {
            c->line++;
        }
        c->pos++;
    }
}

/* Positions C at the first element of the top-level "events" array. */
static void sc_find_events(scan *c)
{
    c->ok = false;
    sc_ws(c);
    if (c->pos >= c->len || c->s[c->pos] != '{')
        return;
    c->pos++;
    for (;;) {
        sc_ws(c);
        if (c->pos >= c->len || c->s[c->pos] != '"')
            return;
        size_t k = c->pos;
        sc_value(c);
        bool is_events = c->pos - k == 8 && memcmp(c->s + k, "\"events\"", 8) == 0;
        sc_ws(c);
        if (c->pos >= c->len || c->s[c->pos] != ':')
            return;
        c->pos++;
        sc_ws(c);
        if (is_events) {
            if (c->pos < c->len && c->s[c->pos] == '[') {
                c->pos++;
                sc_ws(c);
                c->ok = true;
            }
            return;
        }
        sc_value(c);
        sc_ws(c);
        if (c->pos >= c->len || c->s[c->pos] != ',')
            return;
        c->pos++;
    }
}

/* ---- the reader backend -------------------------------------------- */

typedef struct json_state {
    char *text;
    json_t *root;
    json_t *events;
    size_t next;
    scan sc;
} json_state;

static int json_next(ht_reader *r, ht_event *ev)
{
    json_state *st = r->state;
    if (st->next >= json_array_size(st->events))
        return 0;
    if (st->sc.ok && st->next > 0) {
        sc_value(&st->sc); /* past the previous element */
        sc_ws(&st->sc);
        if (st->sc.pos < st->sc.len && st->sc.s[st->sc.pos] == ',') {
            st->sc.pos++;
            sc_ws(&st->sc);
        }
    }
    r->loc.at = st->sc.ok ? st->sc.line : 1;
    char msg[256];
    int rc = ht_json_decode_event(json_array_get(st->events, st->next), ev, msg, sizeof msg);
    if (rc < 0)
        return ht_rfail(r, rc, r->loc, r->index, "%s", msg);
    st->next++;
    return 1;
}

static void json_close(ht_reader *r)
{
    json_state *st = r->state;
    if (!st)
        return;
    json_decref(st->root);
    free(st->text);
    free(st);
    r->state = NULL;
}

static const ht_backend json_backend = {json_next, json_close};

int ht_json_open(ht_reader *r, ht_error *err)
{
    json_state *st = calloc(1, sizeof *st);
    if (!st)
        return HT_ENOMEM;
    r->state = st;
    r->be = &json_backend;
    r->header_loc = (ht_loc){false, 1};
    r->loc = (ht_loc){false, 1};
    size_t len;
    int rc = ht_slurp(r->path, HT_MAX_JSON_BYTES, &st->text, &len);
    if (rc == HT_EIO) {
        ht_fmt(err->text, sizeof err->text, "%s: cannot read: %s", r->path, strerror(errno));
        return rc;
    }
    if (rc == HT_EFORMAT)
        return ht_rfail(r, rc, r->loc, HT_EVENT_DOC,
                        "longer than the .json limit of %llu bytes (a .json trace is read whole; "
                        "big traces are .jsonl or .hkt)", (unsigned long long)HT_MAX_JSON_BYTES);
    if (rc < 0)
        return ht_rfail(r, rc, r->loc, HT_EVENT_DOC, "out of memory");
    json_error_t jerr;
    st->root = json_loadb(st->text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!st->root)
        return ht_rfail(r, HT_EFORMAT, (ht_loc){false, jerr.line > 0 ? (uint64_t)jerr.line : 1},
                        HT_EVENT_DOC, "invalid JSON: %s", jerr.text);
    rc = ht_json_check_header(st->root, false, r, r->header_loc);
    if (rc < 0)
        return rc;
    st->events = json_object_get(st->root, "events");
    r->header.event_count = (int64_t)json_array_size(st->events);
    st->sc = (scan){st->text, len, 0, 1, false};
    sc_find_events(&st->sc);
    return 0;
}

/* ---- the writer encoder -------------------------------------------- */

#define THREADS_PAD "          " /* 10 columns, patched at the end */

static int json_begin(ht_writer *w)
{
    ht_out *o = &w->out;
    static const char head[] = "{\"format\":\"" HT_FORMAT_NAME "\",\"version\":1,\"meta\":";
    ht_out_write(o, head, sizeof head - 1);
    ht_out_write(o, w->meta_json, strlen(w->meta_json));
    ht_out_write(o, ",\"threads\":", 11);
    w->patch_at = ht_out_pos(o);
    return ht_out_write(o, THREADS_PAD ",\"events\":[", 10 + 11);
}

static int json_event(ht_writer *w, const ht_event *ev)
{
    char *p = ht_out_reserve(&w->out, 160);
    if (!p)
        return HT_EIO;
    size_t n = 0;
    if (w->count > 0)
        p[n++] = ',';
    p[n++] = '\n';
    n += ht_json_format_event(ev, p + n);
    w->out.len -= 160 - n;
    return 0;
}

static int json_end(ht_writer *w)
{
    char num[16];
    if (ht_out_write(&w->out, "\n]}\n", 4) < 0)
        return HT_EIO;
    snprintf(num, sizeof num, "%10u", ht_writer_threads(w));
    return ht_out_patch(&w->out, w->patch_at, num, 10);
}

const ht_encoder ht_json_encoder = {json_begin, json_event, json_end};
