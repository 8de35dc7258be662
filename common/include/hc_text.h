/* hc_text.h: text that reaches a terminal from untrusted input.  Error
 * messages quote what they found in a file (an op name, a header key, a
 * parser's token); control bytes in it would move the cursor, change
 * colours or split the one-line message, so they are shown escaped. */
#ifndef HC_TEXT_H
#define HC_TEXT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Rewrites the NUL-terminated S (in a buffer of CAP bytes) so it holds no
 * byte below 0x20 nor 0x7f: each becomes "\xNN" (a backslash, x, two hex
 * digits).  Truncated to fit CAP, never in the middle of an escape.
 * Returns the new length. */
size_t hc_text_escape_controls(char *s, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* HC_TEXT_H */
