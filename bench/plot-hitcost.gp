# SPDX-License-Identifier: MIT
# Hit cost vs number of cached entries, one line per system, from the data
# files `sanverbs-bench --data DIR` writes (hit_entries-<label>.dat:
# entries median min max). Systems without a cache are drawn flat at their
# reg+dereg cost: that is what every "hit" costs them.
#
#   gnuplot -e "datadir='DIR'; systems='sanverbs lf-uffd'; out='x.png'" \
#           bench/plot-hitcost.gp
if (!exists("datadir")) datadir = "."
if (!exists("systems")) systems = "raw sanverbs sv-kmod lf-uffd lf-memhooks lf-nocache"
if (!exists("out")) out = "hitcost.png"
if (!exists("subtitle")) subtitle = ""

set terminal pngcairo size 900,560 noenhanced font ",10"
set output out
set title "Registration hit cost vs cached entries (reg+dereg of a random 4 KiB entry)\n".subtitle
set xlabel "cached entries"
set ylabel "ns per reg+dereg (median, bars = min..max)"
set logscale xy
set format y "%.0s%c"
set grid xtics ytics mxtics mytics lc rgb "#dddddd"
set key outside right top
set xrange [700:150000]

# One fixed colour per system across runs; sanverbs drawn heaviest.
color(s) = s eq "sanverbs" ? "#d62728" : s eq "sv-kmod" ? "#ff7f0e" : \
	s eq "lf-uffd" ? "#1f77b4" : \
	s eq "lf-memhooks" ? "#2ca02c" : s eq "ucx" ? "#9467bd" : \
	s eq "raw" ? "#7f7f7f" : "#bcbd22"
plot for [i=1:words(systems)] \
	datadir."/hit_entries-".word(systems, i).".dat" using 1:2:3:4 \
	with yerrorlines lc rgb color(word(systems, i)) \
	lw (word(systems, i) eq "sanverbs" || word(systems, i) eq "sv-kmod" ? \
	    3 : 1.5) pt 7 ps 0.8 \
	title word(systems, i)
