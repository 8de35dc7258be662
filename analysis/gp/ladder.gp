# ladder.gp: utilization R/H and the byte ladder of one run over time.
# Written by `hakreplay plot` beside its data; redraw by hand with
#   gnuplot -e "title='my title'" ladder.gp      (in the output directory)
# Data (ladder.dat, one row per sample; 0 is written NaN, a log axis has no 0):
#   1 t  2 live_req_bytes (R)  3 live_block_bytes  4 slab_active_bytes
#   5 ss_mapped_bytes (H)  6 touched_bytes  7 utilization R/H
if (!exists("datafile")) datafile = "ladder.dat"
if (!exists("outfile"))  outfile  = "ladder.png"
if (!exists("term"))     term     = "pngcairo"
if (!exists("width"))    width    = 960
if (!exists("height"))   height   = 600
if (!exists("title"))    title    = "hakreplay run"
if (!exists("tmax"))     tmax     = 0
if (!exists("opms"))     opms     = 0
if (!exists("nodata"))   nodata   = 0
if (!exists("noutil"))   noutil   = 0

set terminal @term size width,height
set termoption noenhanced
set output outfile
set title "Utilization and byte ladder\n".title
set xlabel "event index (trace events)"
set ylabel "bytes (log scale)"
set y2label "utilization R / H (log scale)"
set logscale y 32
set format y "%.0b %BB"
set logscale y2 10
set format y2 "%.0e"
set ytics nomirror
set y2tics
set grid xtics ytics
set key below horizontal
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
if (noutil) set y2range [1e-6:1]
if (nodata) {
  set yrange [1:1024]
  set y2range [1e-6:1]
  set label 1 "no live or mapped bytes in this run" at graph 0.5,0.5 center
}

plot datafile using 1:5 with lines lw 2 lc rgb "#d62728" title "SuperSlab mapped (H)", \
     ''       using 1:6 with lines lw 1 lc rgb "#ff7f0e" title "touched", \
     ''       using 1:4 with lines lw 1 lc rgb "#9467bd" title "slab active", \
     ''       using 1:3 with lines lw 1 lc rgb "#1f77b4" title "live block (class size)", \
     ''       using 1:2 with lines lw 2 lc rgb "#2ca02c" title "live requested (R)", \
     ''       using 1:7 axes x1y2 with lines lw 1 dt 2 lc rgb "black" title "utilization R/H (right axis)"
