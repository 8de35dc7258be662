# superslabs.gp: the SuperSlab census of one run over time, and the
# SuperSlabs mapped and unmapped so far.
# Written by `hakreplay plot` beside its data; redraw by hand with
#   gnuplot -e "title='my title'" superslabs.gp   (in the output directory)
# Data (superslabs.dat, one row per sample):
#   1 t  2 live  3 empty  4 orphaned  5 logically_nonempty_but_empty
#   6 partial  7 full  8 mapped so far  9 unmapped so far (from the events)
if (!exists("datafile")) datafile = "superslabs.dat"
if (!exists("outfile"))  outfile  = "superslabs.png"
if (!exists("term"))     term     = "pngcairo"
if (!exists("width"))    width    = 960
if (!exists("height"))   height   = 600
if (!exists("title"))    title    = "hakreplay run"
if (!exists("tmax"))     tmax     = 0
if (!exists("opms"))     opms     = 0
if (!exists("note"))     note     = ""

set terminal @term size width,height
set termoption noenhanced
set output outfile
set title "SuperSlabs over time".note."\n".title
set xlabel "event index (trace events)"
set ylabel "SuperSlabs (count)"
set grid xtics ytics
set key below horizontal
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

plot datafile using 1:8 with lines lw 1 dt 2 lc rgb "#7f7f7f" title "mapped so far", \
     ''       using 1:9 with lines lw 1 dt 2 lc rgb "#2ca02c" title "unmapped so far", \
     ''       using 1:2 with lines lw 2 lc rgb "#d62728" title "live", \
     ''       using 1:3 with lines lw 1 lc rgb "#1f77b4" title "empty (no live block)", \
     ''       using 1:4 with lines lw 1 lc rgb "#ff7f0e" title "orphaned", \
     ''       using 1:5 with lines lw 2 lc rgb "black" title "counter > 0 but empty"
