#!/usr/bin/awk -f
# table.awk ROWS_TSV RESULTS_TSV: the benchmark suite's markdown tables
# (run.sh writes both files; POSIX awk, mawk is enough).
#   ROWS_TSV     row, command, unit, allocators not run and why (no header)
#   RESULTS_TSV  row, allocator, run, status, ops_per_s, peak_rss_kib, wall_s,
#                more (a header line; "-" where a run gave no number)
# Per row, one line per allocator in the order of its first run: median ops/s
# [min-max], the ratio to the best median of glibc, tcmalloc, mimalloc and
# jemalloc (the "best of four"), the median peak RSS, its ratio to the lowest
# median of the four, and the runs that did not end with status ok.
BEGIN { FS = "\t"; four["glibc"] = four["tcmalloc"] = four["mimalloc"] = four["jemalloc"] = 1 }

function sorted(list, v,   n, i, j, t) {
  n = split(list, v, " ")
  for (i = 2; i <= n; i++)
    for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
  return n
}
function median(list,   v, n) {
  n = sorted(list, v)
  if (n == 0) return -1
  return n % 2 ? v[(n + 1) / 2] + 0 : (v[n / 2] + v[n / 2 + 1]) / 2
}
function range(list,   v, n) {
  n = sorted(list, v)
  return n ? sprintf("[%.2f-%.2f]", v[1] / 1e6, v[n] / 1e6) : ""
}
function ratio(x, ref) { return (x >= 0 && ref > 0) ? sprintf("%.2f", x / ref) : "-" }

FNR == NR { nrows++; row[nrows] = $1; cmd[$1] = $2; unit[$1] = $3; skip[$1] = $4; next }
FNR == 1 { next }
{
  k = $1 SUBSEP $2
  if (!(k in runs)) { nal[$1]++; al[$1, nal[$1]] = $2 }
  runs[k]++
  if ($5 != "-") ops[k] = ops[k] " " $5
  if ($6 != "-") rss[k] = rss[k] " " $6
  if ($4 != "ok") {
    if (!((k, $4) in bad)) badlist[k] = badlist[k] " " $4
    bad[k, $4]++
  }
}
END {
  for (ri = 1; ri <= nrows; ri++) {
    w = row[ri]
    printf "### %s: `%s`\n\n", w, cmd[w]
    printf "Unit: %s per second.\n\n", unit[w]
    best = 0; low = -1
    for (i = 1; i <= nal[w]; i++) {
      a = al[w, i]; k = w SUBSEP a
      mo[a] = median(ops[k]); mr[a] = median(rss[k])
      if (a in four) {
        if (mo[a] > best) best = mo[a]
        if (mr[a] >= 0 && (low < 0 || mr[a] < low)) low = mr[a]
      }
    }
    printf "| allocator | ops/s median [min-max], millions | vs best of four | peak RSS MiB (median) | RSS vs lowest of four | failed runs |\n"
    printf "|---|---|---|---|---|---|\n"
    for (i = 1; i <= nal[w]; i++) {
      a = al[w, i]; k = w SUBSEP a
      failed = ""
      n = split(substr(badlist[k], 2), st, " ")
      for (j = 1; j <= n; j++) failed = failed (j > 1 ? ", " : "") sprintf("%s %d/%d", st[j], bad[k, st[j]], runs[k])
      printf "| %s | %s | %s | %s | %s | %s |\n", a,
        (mo[a] >= 0 ? sprintf("%.2f %s", mo[a] / 1e6, range(ops[k])) : "-"),
        ratio(mo[a], best), (mr[a] >= 0 ? sprintf("%.1f", mr[a] / 1024) : "-"), ratio(mr[a], low), failed
    }
    if (skip[w] != "") printf "\nNot run: %s.\n", skip[w]
    printf "\n"
  }
}
