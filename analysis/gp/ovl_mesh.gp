# ovl_mesh.gp: meshing, potential against achieved, one colour per variant
# (hakreplay compare): solid, the bytes its mesh passes released so far
# (compaction=mesh); points, what one pass could release at the sampled
# points (the potential, any configuration). Only variants where either is
# ever above 0 are drawn.
# Written by `hakreplay compare` beside its data; redraw by hand with
#   gnuplot -e "files='ovm_a.dat ovm_b.dat'; names='a b'" ovl_mesh.gp
# Data: ovl_mappings.gp's files (4 released so far, 5 potential).
if (!exists("files"))   files   = "ovm_run.dat"
if (!exists("names"))   names   = files
if (!exists("outfile")) outfile = "ovl_mesh.png"
if (!exists("term"))    term    = "pngcairo"
if (!exists("width"))   width   = 960
if (!exists("height"))  height  = 600
if (!exists("title"))   title   = "hakreplay compare"
if (!exists("tmax"))    tmax    = 0
if (!exists("nodata"))  nodata  = 0

set terminal @term size width,height
set termoption noenhanced
set output outfile
set title "Meshing: released so far (lines) and one pass's potential (points), by variant\n".title
set xlabel "event index (trace events)"
set ylabel "bytes"
set format y "%.0b %BB"
set yrange [0:*]
set grid xtics ytics
set key below horizontal
if (tmax > 0) set xrange [0:tmax]
if (nodata) {
  set yrange [0:1]
  set format y "%g"
  set label 1 "no variant meshed, and none could have" at graph 0.5,0.5 center
}

plot for [i=1:words(files)] word(files, i) using 1:4 with lines lw 2 lc i title word(names, i)." released", \
     for [i=1:words(files)] word(files, i) using 1:5 with points pt 7 ps 0.7 lc i title word(names, i)." potential"
