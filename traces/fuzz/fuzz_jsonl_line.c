/* fuzz_jsonl_line.c — libFuzzer target, differential: every event line the
 * .jsonl fast path accepts must be accepted by the jansson path (the one
 * .json uses) with the identical event, so the two encodings can never
 * disagree about a line.  No files involved; runs fast.
 * Build and run: traces/fuzz/run.sh (FUZZ=jsonl_line).
 */
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ht_event a, b;
    if (!ht_jsonl_fast_event((const char *)data, size, &a))
        return 0;
    json_error_t jerr;
    json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
                           &jerr);
    if (!v)
        abort();
    char msg[256];
    if (ht_json_decode_event(v, &b, msg, sizeof msg) != 0)
        abort();
    json_decref(v);
    if (a.op != b.op || a.tid != b.tid || a.parent != b.parent || a.id != b.id ||
        a.new_id != b.new_id || a.size != b.size || a.n != b.n || a.align != b.align)
        abort();
    return 0;
}
