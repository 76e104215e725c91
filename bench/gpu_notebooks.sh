#!/usr/bin/env bash
# The notebooks end to end on a lent GPU machine (issue 46, item 3): ./run_all.sh with papermill over an MNIST-only
# profile's dry run, on the machine's own PyTorch, the notebook stack carried as wheels. Here first:
#     python bench/gpu_carry.py        # .whl/ (the wheels) and .gpu_data/ (the MNIST files), sizes against 64 MiB
# then, through the device tool, from the repository root, with carry [".whl", ".gpu_data"]:
#     bash bench/gpu_notebooks.sh [PROFILE]      # default: deviations (MNIST only, adversarial models, variants)
# It writes the run's log and its tables (one archive) to $OUT, else to bench/results/gpu-notebooks/.
set -uo pipefail
profile="${1:-deviations}"
out="${OUT:-bench/results/gpu-notebooks}"
mkdir -p "$out" /tmp/lat-bin
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  || { echo "the carried wheels did not install" | tee "$out/run.log"; exit 1; }
ln -sf "$(command -v python3)" /tmp/lat-bin/python   # run_all.sh calls python; the machine has python3
export PATH="/tmp/lat-bin:$PATH" PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1
export JUPYTER_PATH=/tmp/site/share/jupyter   # the wheels' data: nbconvert's templates, the kernel's spec
export LAT_DATA_DIR="$PWD/.gpu_data" LAT_OFFLINE=1 LAT_NO_INSTALL=1   # the carried data; nothing to install
{ nvidia-smi --query-gpu=name,memory.total --format=csv,noheader; python3 -c "import torch; print(torch.__version__)"; } \
  > "$out/machine.txt" 2>&1
start=$(date +%s)
./run_all.sh --profile "$profile" --dry-run 2>&1 | tee "$out/run.log"
status=${PIPESTATUS[0]}
echo "exit status $status after $(( $(date +%s) - start )) s" | tee -a "$out/run.log"
tar czf "$out/reports.tgz" "reports/$profile-dry-run/tables" "reports/$profile-dry-run"/*.ipynb 2>/dev/null
exit "$status"
