# ovl_rutil.gp: utilization live / resident over time, one line per variant
# or allocator (hakreplay compare): the headline curve, how much of what
# each allocator holds in memory the program is using.
# Written by `hakreplay compare` beside its data; redraw by hand with
#   gnuplot -e "files='ovr_a.dat ovr_b.dat'; names='a b'" ovl_rutil.gp
# Data (ovr_VARIANT.dat, one per run, one row per measured sample; 0 is NaN):
#   1 t  2 resident_bytes  3 utilization live / resident  4 mapped_bytes
if (!exists("files"))   files   = "ovr_run.dat"
if (!exists("names"))   names   = files
if (!exists("outfile")) outfile = "ovl_rutil.png"
if (!exists("term"))    term    = "pngcairo"
if (!exists("width"))   width   = 960
if (!exists("height"))  height  = 600
if (!exists("title"))   title   = "hakreplay compare"
if (!exists("tmax"))    tmax    = 0
if (!exists("nodata"))  nodata  = 0

set terminal @term size width,height
set termoption noenhanced
set output outfile
set title "Utilization live / resident, by variant and allocator\n".title
set xlabel "event index (trace events)"
set ylabel "live requested bytes / resident bytes (log scale)"
set logscale y 10
set format y "%.0e"
set grid xtics ytics
set key below horizontal
if (tmax > 0) set xrange [0:tmax]
if (nodata) {
  set yrange [1e-3:1]
  set label 1 "no measured sample in any run" at graph 0.5,0.5 center
}

plot for [i=1:words(files)] word(files, i) using 1:3 with lines lw 2 dt i title word(names, i)
