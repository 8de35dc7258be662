/* schema_check.h: a small JSON Schema checker for the tests, covering the
 * keywords docs/run.schema.json uses: type, required, properties, items,
 * enum, minimum, maximum, minItems, maxItems, pattern, local $ref and
 * if/then/else. */
#ifndef HR_SCHEMA_CHECK_H
#define HR_SCHEMA_CHECK_H

#include <jansson.h>
#include <stddef.h>

/* 0 if value satisfies schema; else -1 with "PATH: problem" in err. */
int schema_check(json_t *root, json_t *schema, json_t *value, const char *path, char *err,
                 size_t errlen);

#endif
