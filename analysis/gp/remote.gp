# remote.gp: the share of frees that were cross-thread ("remote"), per
# sample interval and since the start, and the blocks pushed on remote-free
# stacks and not yet drained.
# Written by `hakreplay plot` beside its data; redraw by hand with
#   gnuplot -e "title='my title'" remote.gp       (in the output directory)
# Data (remote.dat, one row per sample; interval ratio NaN when no free):
#   1 t  2 interval remote ratio  3 cumulative remote ratio
#   4 remote_pending_blocks  5 frees_local  6 frees_remote (cumulative)
if (!exists("datafile")) datafile = "remote.dat"
if (!exists("outfile"))  outfile  = "remote.png"
if (!exists("term"))     term     = "pngcairo"
if (!exists("width"))    width    = 960
if (!exists("height"))   height   = 600
if (!exists("title"))    title    = "hakreplay run"
if (!exists("tmax"))     tmax     = 0
if (!exists("opms"))     opms     = 0

set terminal @term size width,height
set termoption noenhanced
set output outfile
set title "Remote (cross-thread) frees\n".title
set xlabel "event index (trace events)"
set ylabel "remote frees / all frees (ratio)"
set y2label "remote pending (blocks)"
set yrange [0:1.05]
set y2range [0:*]
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

plot datafile using 1:2 with lines lw 1 lc rgb "#9ecae1" title "remote ratio, per interval", \
     ''       using 1:3 with lines lw 2 lc rgb "#08519c" title "remote ratio, cumulative", \
     ''       using 1:4 axes x1y2 with lines lw 2 lc rgb "#d62728" title "remote pending blocks (right axis)"
