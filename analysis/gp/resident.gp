# resident.gp: the allocator's measured memory over time, beside what the
# trace keeps live: the same picture for hakmem and for glibc, jemalloc,
# mimalloc and tcmalloc (docs/run-format.md, "Resident and mapped bytes").
# Written by `hakreplay plot` beside its data; redraw by hand with
#   gnuplot -e "title='my title'" resident.gp      (in the output directory)
# Data (resident.dat, one row per measured sample; 0 is written NaN):
#   1 t  2 live requested bytes, every block  3 resident_bytes
#   4 mapped_bytes  5 utilization live / resident
if (!exists("datafile")) datafile = "resident.dat"
if (!exists("outfile"))  outfile  = "resident.png"
if (!exists("term"))     term     = "pngcairo"
if (!exists("width"))    width    = 960
if (!exists("height"))   height   = 600
if (!exists("title"))    title    = "hakreplay run"
if (!exists("tmax"))     tmax     = 0
if (!exists("opms"))     opms     = 0
if (!exists("nodata"))   nodata   = 0

set terminal @term size width,height
set termoption noenhanced
set output outfile
set title "Resident and mapped bytes (measured) and live bytes\n".title
set xlabel "event index (trace events)"
set ylabel "bytes (log scale)"
set y2label "utilization live / resident"
set logscale y 32
set format y "%.0b %BB"
set ytics nomirror
set y2tics
set y2range [0:*]
set grid xtics ytics
set key below horizontal
if (tmax > 0) set xrange [0:tmax]
if (opms > 0 && tmax > 0) {
  per = (tmax < 2000.0*opms) ? opms : 1000.0*opms
  set x2tics
  set xtics nomirror
  set format x2 "%g"
  set x2range [0:tmax/per]
  set x2label sprintf("logical time (%s at %g events/ms)", per == opms ? "ms" : "s", opms)
}
if (nodata) {
  set yrange [1:1024]
  set y2range [0:1]
  set label 1 "no measured sample in this run" at graph 0.5,0.5 center
}

plot datafile using 1:4 with lines lw 1 lc rgb "#ff7f0e" title "mapped (writable private anonymous)", \
     ''       using 1:3 with lines lw 2 lc rgb "#d62728" title "resident", \
     ''       using 1:2 with lines lw 2 lc rgb "#2ca02c" title "live requested (all blocks)", \
     ''       using 1:5 axes x1y2 with lines lw 1 dt 2 lc rgb "black" title "utilization live/resident (right axis)"
