# trim.gp: what each trim pass did: SuperSlabs unmapped, and those it
# skipped by reason (not empty, cached by a thread, kept as empty reserve),
# stacked, one bar per pass at its event index.
# Written by `hakreplay plot` beside its data; redraw by hand with
#   gnuplot -e "title='my title'" trim.gp         (in the output directory)
# Data (trim.dat, one row per trim pass):
#   1 t  2 pass  3 freed  4 skipped_nonempty  5 skipped_cached
#   6 skipped_reserve  7 scanned  8 freed_bytes
if (!exists("datafile")) datafile = "trim.dat"
if (!exists("outfile"))  outfile  = "trim.png"
if (!exists("term"))     term     = "pngcairo"
if (!exists("width"))    width    = 960
if (!exists("height"))   height   = 600
if (!exists("title"))    title    = "hakreplay run"
if (!exists("tmax"))     tmax     = 0
if (!exists("opms"))     opms     = 0
if (!exists("ntrims"))   ntrims   = 1
if (!exists("boxw"))     boxw     = 1

set terminal @term size width,height
set termoption noenhanced
set output outfile
set title sprintf("Trim passes (%d)\n%s", ntrims, title)
set xlabel "event index (trace events)"
set ylabel "SuperSlabs per pass (count)"
set grid ytics
set key below horizontal
set boxwidth boxw absolute
set style fill solid 0.9 noborder
set yrange [0:*]
if (tmax > 0) set xrange [0:tmax]
# Second axis: logical time at opms events per millisecond (ms when short).
if (opms > 0 && tmax > 0) {
  per = (tmax < 2000.0*opms) ? opms : 1000.0*opms
  set x2tics
  set xtics nomirror
  set format x2 "%g"
  set x2range [0:tmax/per]
  set x2label sprintf("logical time (%s at %g events/ms)", per == opms ? "ms" : "s", opms)
}
if (ntrims == 0) {
  set yrange [0:1]
  set label 1 "no trim pass in this run (trim off)" at graph 0.5,0.5 center
}

# Stacked: each bar is drawn from the full height down, so the shorter
# sums paint over the taller ones.
plot datafile using 1:($3+$4+$5+$6) with boxes lc rgb "#bdbdbd" title "skipped: empty reserve", \
     ''       using 1:($3+$4+$5)    with boxes lc rgb "#fdae6b" title "skipped: cached by a thread", \
     ''       using 1:($3+$4)       with boxes lc rgb "#6baed6" title "skipped: not empty", \
     ''       using 1:3             with boxes lc rgb "#31a354" title "freed (unmapped)"
