# occupancy.gp: heat map of the live SuperSlabs' true occupancy over time:
# for each sample interval and occupancy bucket, the colour is how many
# SuperSlabs were in that bucket (white: none).
# Written by `hakreplay plot` beside its data; redraw by hand with
#   gnuplot -e "title='my title'" occupancy.gp    (in the output directory)
# Data (occupancy.dat, one row per sample and non-empty bucket):
#   1 t0 (previous sample)  2 t1 (this sample)  3 bucket 0..10  4 SuperSlabs
if (!exists("datafile")) datafile = "occupancy.dat"
if (!exists("outfile"))  outfile  = "occupancy.png"
if (!exists("term"))     term     = "pngcairo"
if (!exists("width"))    width    = 960
if (!exists("height"))   height   = 600
if (!exists("title"))    title    = "hakreplay run"
if (!exists("tmax"))     tmax     = 0
if (!exists("opms"))     opms     = 0

set terminal @term size width,height
set termoption noenhanced
set output outfile
set title "SuperSlab occupancy over time (live blocks / capacity)\n".title
set xlabel "event index (trace events)"
set ylabel "true occupancy (bucket)"
set cblabel "SuperSlabs in the bucket (count)"
set yrange [-0.5:10.5]
set ytics ("0 (empty)" 0, "0-10%%" 1, "10-20%%" 2, "20-30%%" 3, "30-40%%" 4, "40-50%%" 5, \
           "50-60%%" 6, "60-70%%" 7, "70-80%%" 8, "80-90%%" 9, "90-100%%" 10)
set cbrange [0:*]
set palette defined (0 "#ffffcc", 1 "#fd8d3c", 2 "#800026")
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

plot datafile using (($1+$2)/2):3:1:2:($3-0.5):($3+0.5):4 \
       with boxxyerror fillstyle solid 1.0 noborder lc palette \
       title "SuperSlabs per occupancy bucket (colour)"
