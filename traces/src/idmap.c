/* idmap.c — the set of live block ids (with a 64-bit payload each): open
 * addressing, linear probing, backward-shift deletion (no tombstones), so
 * memory follows the live set and never the trace length.  Invariant:
 * load factor <= 1/2; keys are stored as id + 1 so that 0 marks an empty slot.
 */
#include <stdlib.h>

#include "internal.h"

#define IDMAP_MIN_CAP 1024

static inline size_t slot_of(const ht_idmap *m, uint64_t key)
{
    /* Fibonacci hashing spreads dense ids evenly over the table. */
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & m->mask;
}

static int alloc_table(ht_idmap *m, size_t cap)
{
    m->keys = calloc(cap, sizeof *m->keys);
    m->vals = malloc(cap * sizeof *m->vals);
    if (!m->keys || !m->vals) {
        free(m->keys);
        free(m->vals);
        m->keys = m->vals = NULL;
        return HT_ENOMEM;
    }
    m->mask = cap - 1;
    m->count = 0;
    return 0;
}

int ht_idmap_init(ht_idmap *m) { return alloc_table(m, IDMAP_MIN_CAP); }

void ht_idmap_free(ht_idmap *m)
{
    free(m->keys);
    free(m->vals);
    m->keys = m->vals = NULL;
}

static void insert_raw(ht_idmap *m, uint64_t key, uint64_t val)
{
    size_t i = slot_of(m, key);
    while (m->keys[i] != 0)
        i = (i + 1) & m->mask;
    m->keys[i] = key;
    m->vals[i] = val;
    m->count++;
}

static int resize(ht_idmap *m, size_t cap)
{
    ht_idmap old = *m;
    if (alloc_table(m, cap) < 0) {
        *m = old;
        return HT_ENOMEM;
    }
    for (size_t i = 0; i <= old.mask; i++)
        if (old.keys[i])
            insert_raw(m, old.keys[i], old.vals[i]);
    ht_idmap_free(&old);
    return 0;
}

int ht_idmap_put(ht_idmap *m, uint64_t id, uint64_t val)
{
    if ((m->count + 1) * 2 > m->mask + 1 && resize(m, (m->mask + 1) * 2) < 0)
        return HT_ENOMEM;
    insert_raw(m, id + 1, val);
    return 0;
}

bool ht_idmap_get(const ht_idmap *m, uint64_t id, uint64_t *val)
{
    uint64_t key = id + 1;
    for (size_t i = slot_of(m, key);; i = (i + 1) & m->mask) {
        if (m->keys[i] == key) {
            if (val)
                *val = m->vals[i];
            return true;
        }
        if (m->keys[i] == 0)
            return false;
    }
}

bool ht_idmap_del(ht_idmap *m, uint64_t id, uint64_t *val)
{
    uint64_t key = id + 1;
    size_t i = slot_of(m, key);
    while (m->keys[i] != key) {
        if (m->keys[i] == 0)
            return false;
        i = (i + 1) & m->mask;
    }
    if (val)
        *val = m->vals[i];
    /* Backward shift: pull later members of the probe run into the hole. */
    size_t hole = i;
    for (size_t j = (i + 1) & m->mask; m->keys[j] != 0; j = (j + 1) & m->mask) {
        size_t home = slot_of(m, m->keys[j]);
        /* Move j into the hole unless its home lies cyclically in (hole, j]. */
        bool stays = (hole <= j) ? (hole < home && home <= j) : (hole < home || home <= j);
        if (!stays) {
            m->keys[hole] = m->keys[j];
            m->vals[hole] = m->vals[j];
            hole = j;
        }
    }
    m->keys[hole] = 0;
    m->count--;
    /* Shrink when sparse so a once-large live set does not pin memory. */
    if (m->mask + 1 > IDMAP_MIN_CAP && m->count * 8 < m->mask + 1)
        (void)resize(m, (m->mask + 1) / 2);
    return true;
}
