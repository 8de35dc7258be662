# mappings.gp: the kernel mappings one run's allocator holds over time, by
# its own count (docs/meshing.md, "Trim and the map limit"), against the
# map limit when the run had one.
# Written by `hakreplay plot` beside its data; redraw by hand with
#   gnuplot -e "title='my title'" mappings.gp      (in the output directory)
# Data (mappings.dat, one row per sample):
#   1 t  2 mappings (every one: SuperSlabs, the splits meshes make, large
#   objects, metadata)  3 SuperSlab mappings (SuperSlabs + splits)
#   4 SuperSlabs  5 counted against ss_map_limit (3 + the started threads'
#   mappings)  6 meshes so far  7 bytes meshing released so far
#   8 meshing potential (NaN where not computed)  9 touched bytes
if (!exists("datafile")) datafile = "mappings.dat"
if (!exists("outfile"))  outfile  = "mappings.png"
if (!exists("term"))     term     = "pngcairo"
if (!exists("width"))    width    = 960
if (!exists("height"))   height   = 600
if (!exists("title"))    title    = "hakreplay run"
if (!exists("tmax"))     tmax     = 0
if (!exists("opms"))     opms     = 0
if (!exists("limit"))    limit    = 0

set terminal @term size width,height
set termoption noenhanced
set output outfile
set title "Kernel mappings over time (the allocator's own count)\n".title
set xlabel "event index (trace events)"
set ylabel "mappings (count)"
set grid xtics ytics
set key below horizontal
set yrange [0:*]
if (tmax > 0) set xrange [0:tmax]
if (opms > 0 && tmax > 0) {
  per = (tmax < 2000.0*opms) ? opms : 1000.0*opms
  set x2tics
  set xtics nomirror
  set format x2 "%g"
  set x2range [0:tmax/per]
  set x2label sprintf("logical time (%s at %g events/ms)", per == opms ? "ms" : "s", opms)
}
# The limit as a line across the plot, labelled, when there is one.
if (limit > 0) {
  set arrow 1 from graph 0, first limit to graph 1, first limit nohead lw 2 dt 3 lc rgb "black"
  set label 1 sprintf("ss_map_limit %d", limit) at graph 0.01, first limit offset 0,0.7 left
  set yrange [0:limit * 1.08]
}

plot datafile using 1:5 with lines lw 1 dt 2 lc rgb "#7f7f7f" title "counted against ss_map_limit (SuperSlab mappings + threads')", \
     ''       using 1:2 with lines lw 2 lc rgb "#d62728" title "mappings (all)", \
     ''       using 1:3 with lines lw 2 lc rgb "#1f77b4" title "SuperSlab mappings (with mesh splits)", \
     ''       using 1:4 with lines lw 1 lc rgb "#2ca02c" title "SuperSlabs"
