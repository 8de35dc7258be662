# ssdetail.gp: heat map of every SuperSlab's true occupancy over time
# (y = SuperSlab id, in mapping order; colour = live blocks / capacity;
# white = not mapped).  Black dots: the allocator's active counter is > 0
# while the SuperSlab holds no live block (the seed's accounting bug).
# Written by `hakreplay plot --ss-detail` beside its data; redraw by hand with
#   gnuplot -e "title='my title'" ssdetail.gp     (in the output directory)
# Data (ssdetail.dat, one row per grid cell that has a live SuperSlab):
#   1 t0  2 t1  3 first id  4 last id + 1  5 mean occupancy  6 counter > 0 but empty
if (!exists("datafile")) datafile = "ssdetail.dat"
if (!exists("outfile"))  outfile  = "ssdetail.png"
if (!exists("term"))     term     = "pngcairo"
if (!exists("width"))    width    = 960
if (!exists("height"))   height   = 600
if (!exists("title"))    title    = "hakreplay run"
if (!exists("tmax"))     tmax     = 0
if (!exists("opms"))     opms     = 0
if (!exists("nss"))      nss      = 0
if (!exists("perrow"))   perrow   = 1

set terminal @term size width,height
set termoption noenhanced
set output outfile
set title "Per-SuperSlab occupancy over time\n".title
set xlabel "event index (trace events)"
set ylabel (perrow > 1 ? sprintf("SuperSlab id (mapping order; %d ids per row, mean)", perrow) \
                       : "SuperSlab id (mapping order)")
set cblabel "true occupancy (live blocks / capacity)"
set cbrange [0:1]
set palette defined (0 "#313695", 0.1 "#74add1", 0.3 "#fee090", 0.6 "#f46d43", 1 "#a50026")
set key below horizontal
if (nss > 0) set yrange [0:nss]
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

plot datafile using (($1+$2)/2):(($3+$4)/2):1:2:3:4:5 \
       with boxxyerror fillstyle solid 1.0 noborder lc palette title "occupancy (colour)", \
     ''       using (($1+$2)/2):($6 != 0 ? ($3+$4)/2 : NaN) \
       with points pt 7 ps 0.3 lc rgb "black" title "counter > 0 but empty"
