# ovl_live.gp: Live SuperSlabs over time, one line per variant (hakreplay compare).
# Written by `hakreplay compare` beside its data; redraw by hand with
#   gnuplot -e "files='ovl_a.dat ovl_b.dat'; names='a b'" ovl_live.gp
# Identical runs overlap: each variant has its own dash pattern (dt i).
# Data (ovl_VARIANT.dat, one per variant, one row per sample; 0 is NaN):
#   1 t  2 ss_mapped_bytes (H)  3 live SuperSlabs  4 utilization R/H
if (!exists("files"))   files   = "ovl_run.dat"
if (!exists("names"))   names   = files
if (!exists("outfile")) outfile = "ovl_live.png"
if (!exists("term"))    term    = "pngcairo"
if (!exists("width"))   width   = 960
if (!exists("height"))  height  = 600
if (!exists("title"))   title   = "hakreplay compare"
if (!exists("tmax"))    tmax    = 0
if (!exists("nodata"))  nodata  = 0

set terminal @term size width,height
set termoption noenhanced
set output outfile
set title "Live SuperSlabs, by variant\n".title
set xlabel "event index (trace events)"
set ylabel "SuperSlabs (count, log scale)"
set logscale y 10
set grid xtics ytics
set key below horizontal
if (tmax > 0) set xrange [0:tmax]
if (nodata) {
  set yrange [1:10]
  set label 1 "no positive value in any run" at graph 0.5,0.5 center
}

plot for [i=1:words(files)] word(files, i) using 1:3 with lines lw 2 dt i title word(names, i)
