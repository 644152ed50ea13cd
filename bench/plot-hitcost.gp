# Hit cost vs number of cached entries, one line per system, from the data
# files `sanverbs bench --data DIR` writes (hit_entries-<label>.dat:
# entries median min max). Systems without a cache are drawn flat at their
# reg+dereg cost: that is what every "hit" costs them.
#
#   gnuplot -e "datadir='DIR'; systems='sanverbs lf-uffd'; out='x.png'" \
#           bench/plot-hitcost.gp
if (!exists("datadir")) datadir = "."
if (!exists("systems")) systems = "raw sanverbs lf-uffd lf-memhooks lf-nocache"
if (!exists("out")) out = "hitcost.png"
if (!exists("subtitle")) subtitle = ""

set terminal pngcairo size 900,560 noenhanced font ",10"
set colorsequence podo
set output out
set title "Registration hit cost vs cached entries (reg+dereg of a random 4 KiB entry)\n".subtitle
set xlabel "cached entries"
set ylabel "ns per reg+dereg (median, bars = min..max)"
set logscale xy
set format y "%.0s%c"
set grid xtics ytics mxtics mytics lc rgb "#dddddd"
set key outside right top
set xrange [700:150000]

plot for [s in systems] datadir."/hit_entries-".s.".dat" \
	using 1:2:3:4 with yerrorlines lw 2 pt 7 ps 0.8 title s
