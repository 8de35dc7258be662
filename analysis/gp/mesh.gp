# mesh.gp: meshing in one run, what it released against what it could
# have (docs/meshing.md): the potential is what one pass could merge at the
# samples where the replayer asked (any configuration, compaction=none
# included); the release is what the run's passes did (compaction=mesh).
# Written by `hakreplay plot` beside its data; redraw by hand with
#   gnuplot -e "title='my title'" mesh.gp      (in the output directory)
# Data (mappings.dat, one row per sample; mappings.gp has the columns):
#   6 meshes so far  7 bytes released so far  8 potential  9 touched bytes
if (!exists("datafile")) datafile = "mappings.dat"
if (!exists("outfile"))  outfile  = "mesh.png"
if (!exists("term"))     term     = "pngcairo"
if (!exists("width"))    width    = 960
if (!exists("height"))   height   = 600
if (!exists("title"))    title    = "hakreplay run"
if (!exists("tmax"))     tmax     = 0
if (!exists("opms"))     opms     = 0

set terminal @term size width,height
set termoption noenhanced
set output outfile
set title "Meshing: bytes released so far, and what one pass could release\n".title
set xlabel "event index (trace events)"
set ylabel "bytes"
set format y "%.0b %BB"
set y2label "slabs meshed so far (count)"
set ytics nomirror
set y2tics
set yrange [0:*]
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

plot datafile using 1:9 with lines lw 1 lc rgb "#7f7f7f" title "touched (simulated heap RSS)", \
     ''       using 1:7 with lines lw 2 lc rgb "#2ca02c" title "released by meshing so far", \
     ''       using 1:8 with linespoints lw 1 pt 7 ps 0.6 lc rgb "#d62728" title "potential: one pass could release", \
     ''       using 1:6 axes x1y2 with lines lw 1 dt 2 lc rgb "black" title "slabs meshed so far (right axis)"
