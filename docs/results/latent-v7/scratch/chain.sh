#!/bin/bash
# usage: chain.sh NAME  IMG:SETTINGS ...   (one srnbench per pair, one thread, from the worktree)
name=$1; shift
cd /tmp/s12/wt
i=0
for pair in "$@"; do
  img=${pair%%:*}; set=${pair#*:}; i=$((i+1))
  OMP_NUM_THREADS=1 PYTHONPATH=/tmp/s12/wt /work/main/.venv/bin/python -m sirencodec.bench.cli sample_images/$img.png \
     -o /tmp/s12/bench/$name-$i --settings "$set" --device cpu --codecs siren --no-plot
done
echo CHAIN DONE
