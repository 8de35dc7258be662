# ovl_resident.gp: measured resident bytes over time, one line per variant
# or allocator (hakreplay compare).
# Written by `hakreplay compare` beside its data; redraw by hand with
#   gnuplot -e "files='ovr_a.dat ovr_b.dat'; names='a b'" ovl_resident.gp
# Data (ovr_VARIANT.dat, one per run, one row per measured sample; 0 is NaN):
#   1 t  2 resident_bytes  3 utilization live / resident  4 mapped_bytes
if (!exists("files"))   files   = "ovr_run.dat"
if (!exists("names"))   names   = files
if (!exists("outfile")) outfile = "ovl_resident.png"
if (!exists("term"))    term    = "pngcairo"
if (!exists("width"))   width   = 960
if (!exists("height"))  height  = 600
if (!exists("title"))   title   = "hakreplay compare"
if (!exists("tmax"))    tmax    = 0
if (!exists("nodata"))  nodata  = 0

set terminal @term size width,height
set termoption noenhanced
set output outfile
set title "Resident bytes (measured), by variant and allocator\n".title
set xlabel "event index (trace events)"
set ylabel "resident bytes (log scale)"
set logscale y 32
set format y "%.0b %BB"
set grid xtics ytics
set key below horizontal
if (tmax > 0) set xrange [0:tmax]
if (nodata) {
  set yrange [1:1024]
  set label 1 "no measured sample in any run" at graph 0.5,0.5 center
}

plot for [i=1:words(files)] word(files, i) using 1:2 with lines lw 2 dt i title word(names, i)
