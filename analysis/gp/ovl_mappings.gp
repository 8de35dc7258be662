# ovl_mappings.gp: the kernel mappings each variant's allocator holds over
# time, by its own count, one line per variant (hakreplay compare; the
# allocators people ship have no such count and are not drawn).
# Written by `hakreplay compare` beside its data; redraw by hand with
#   gnuplot -e "files='ovm_a.dat ovm_b.dat'; names='a b'" ovl_mappings.gp
# Identical runs overlap: each variant has its own dash pattern (dt i).
# Data (ovm_VARIANT.dat, one per variant, one row per sample; 0 is NaN):
#   1 t  2 mappings  3 SuperSlab mappings  4 bytes meshing released so far
#   5 meshing potential (NaN where not computed)
if (!exists("files"))   files   = "ovm_run.dat"
if (!exists("names"))   names   = files
if (!exists("outfile")) outfile = "ovl_mappings.png"
if (!exists("term"))    term    = "pngcairo"
if (!exists("width"))   width   = 960
if (!exists("height"))  height  = 600
if (!exists("title"))   title   = "hakreplay compare"
if (!exists("tmax"))    tmax    = 0
if (!exists("limit"))   limit   = 0
if (!exists("nodata"))  nodata  = 0

set terminal @term size width,height
set termoption noenhanced
set output outfile
set title "Kernel mappings (the allocator's own count), by variant\n".title
set xlabel "event index (trace events)"
set ylabel "mappings (count, log scale)"
set logscale y 10
set grid xtics ytics
set key below horizontal
if (tmax > 0) set xrange [0:tmax]
if (limit > 0) {
  set arrow 1 from graph 0, first limit to graph 1, first limit nohead lw 2 dt 3 lc rgb "black"
  set label 1 sprintf("ss_map_limit %d", limit) at graph 0.01, first limit offset 0,0.7 left
}
if (nodata) {
  set yrange [1:10]
  set label 2 "no positive value in any run" at graph 0.5,0.5 center
}

plot for [i=1:words(files)] word(files, i) using 1:2 with lines lw 2 dt i title word(names, i)
