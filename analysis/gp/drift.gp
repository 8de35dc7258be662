# drift.gp: accounting drift over time: the sum over SuperSlabs of the
# allocator's active-block counter minus the truly live blocks, beside the
# remote blocks not yet drained, and the SuperSlabs whose counter is > 0
# while they hold no live block.
# Written by `hakreplay plot` beside its data; redraw by hand with
#   gnuplot -e "title='my title'" drift.gp        (in the output directory)
# Data (drift.dat, one row per sample):
#   1 t  2 accounting_drift  3 remote_pending_blocks  4 logically_nonempty_but_empty
if (!exists("datafile")) datafile = "drift.dat"
if (!exists("outfile"))  outfile  = "drift.png"
if (!exists("term"))     term     = "pngcairo"
if (!exists("width"))    width    = 960
if (!exists("height"))   height   = 600
if (!exists("title"))    title    = "hakreplay run"
if (!exists("tmax"))     tmax     = 0
if (!exists("opms"))     opms     = 0

set terminal @term size width,height
set termoption noenhanced
set output outfile
set title "Accounting drift (active counter - live blocks)\n".title
set xlabel "event index (trace events)"
set ylabel "blocks"
set y2label "SuperSlabs (count)"
set ytics nomirror
set y2tics
set y2range [0:*]
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

plot datafile using 1:2 with lines lw 2 lc rgb "#d62728" title "accounting drift (blocks)", \
     ''       using 1:3 with lines lw 1 dt 2 lc rgb "#08519c" title "remote pending (blocks)", \
     ''       using 1:4 axes x1y2 with lines lw 1 lc rgb "black" title "counter > 0 but empty (SuperSlabs, right axis)"
