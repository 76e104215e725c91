#!/usr/bin/env bash
# Issue 46's device check: one call of at most 5 minutes on a lent GPU machine, run once, rerun only if it failed.
# Here first:
#     python bench/gpu_carry.py        # .whl/ (the notebook stack's wheels) and .gpu_data/ (the MNIST files)
# then, through the device tool, from the repository root, with carry [".whl", ".gpu_data"] and timeout_s 330:
#     bash bench/gpu_device_check.sh
# Three parts, each under its own limit so that a stuck one cannot eat the others' time (the limits sum to 290 s):
#   1. the notebooks end to end: bench/gpu_notebooks.sh (it installs the carried wheels into /tmp/site first), an
#      MNIST-only profile's dry run through ./run_all.sh and papermill (CIFAR-10 and ImageNet do not travel);
#   2. the captured training step against the eager one: tests/test_graphs.py (pytest is on the machine);
#   3. the GPU's figures: bench/gpu_check.py without its own paper dry run (part 1 runs the notebooks).
# Everything goes to $OUT (else bench/results/gpu-device-check/): each part's log, the check's JSON, status.txt.
set -uo pipefail
out="${OUT:-bench/results/gpu-device-check}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1
OUT="$out" timeout 120 bash bench/gpu_notebooks.sh > "$out/notebooks.log" 2>&1; notebooks=$?
export PYTHONPATH="/tmp/site:$PWD"   # the wheels part 1 installed, and the project
timeout 40 python3 -m pytest -p no:cacheprovider -q tests/test_graphs.py > "$out/graphs.log" 2>&1; graphs=$?
timeout 130 python3 bench/gpu_check.py --no-dry-run --json "$out/gpu-check.json" > "$out/gpu-check.log" 2>&1; check=$?
echo "exit status: notebooks $notebooks, graphs $graphs, gpu_check $check (124: its time limit)" | tee "$out/status.txt"
[ "$notebooks" = 0 ] && [ "$graphs" = 0 ] && [ "$check" = 0 ]
