#!/usr/bin/env bash
# The GPU checks of docs/benchmarks.md in one go, for a GPU machine whose python3 has torch with CUDA.
#
# Runs from the repository root without installing (PYTHONPATH); the data comes from $DIVEKIT_DATA (with a
# fashion-mnist/ folder in it). Each step has its own time limit, so one that fails or hangs leaves the rest.
# Everything goes to stdout and to $OUT/gpu.log (OUT defaults to a temporary folder).
#   1. what the machine is: GPU, driver, torch;
#   2. bench/gpu_syncs.py: host-device synchronisations per step and per epoch (default and fmnist-93 recipes);
#   3. bench/main_job.py --device cuda: the default recipe against the plain script (both on the GPU), the
#      fmnist-93 recipe (each whole command, cold start);
#   4. bench/overhead.py --device cuda: fit against the hand loops (torch.optim.SGD; divekit's SGD) on the GPU, and
#      Lightning if installed;
#   5. fp16 with GradScaler (one epoch), a torchrun data-parallel run (NCCL, one process), doctor;
#   6. the test suite with CUDA visible (tests whose device is "auto" then train on the GPU; $TESTS: which);
#   7. the book's LeNet recipe against the book's loop, both on the GPU.
# STEPS="syncs main …" runs only those steps (names as below).
# Usage: bash bench/gpu.sh [REPEAT]

set -u
OUT=${OUT:-$(mktemp -d)}
REPEAT=${1:-2}
PY=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
LOG="$OUT/gpu.log"
RUNS=$(mktemp -d)

want() {  # want NAME: whether STEPS (if given) names this step
    [[ -z "${STEPS:-}" || " $STEPS " == *" $1 "* ]]
}

step() {  # step NAME SECONDS COMMAND...: run COMMAND with a time limit, its output to stdout and the log
    local name=$1 limit=$2 t0=$SECONDS
    shift 2
    want "$name" || return 0
    echo "=== $name ($(date +%T))" | tee -a "$LOG"
    timeout "$limit" "$@" 2>&1 | tee -a "$LOG"
    echo "=== $name: exit ${PIPESTATUS[0]} after $((SECONDS - t0)) s" | tee -a "$LOG"
}

step machine 60 bash -c "nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm \
    --format=csv; nproc; $PY -c 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0))'"
step syncs 120 "$PY" bench/gpu_syncs.py
step main 200 "$PY" bench/main_job.py main --device cuda --repeat "$REPEAT"
step fmnist93 150 "$PY" bench/main_job.py fmnist93 --device cuda --repeat 1
LIGHTNING=""  # Lightning's arm too, if this python has it (importing it takes seconds: only when needed)
want overhead && LIGHTNING=$("$PY" -c 'import lightning' 2>/dev/null && echo --lightning-python="$PY")
step overhead 200 bash -c "$PY bench/overhead.py --device cuda --models mlp --steps 1000 --repeat 7 $LIGHTNING && \
    $PY bench/overhead.py --device cuda --models fastcnn --steps 300 --repeat 7 $LIGHTNING"
step fp16 90 "$PY" -m divekit train --device cuda --precision fp16 --epochs 1 --runs-dir "$RUNS" --name fp16
step ddp 120 "$PY" -m torch.distributed.run --standalone --nproc_per_node=1 -m divekit train --ddp --device cuda \
    --epochs 1 --runs-dir "$RUNS" --name ddp
step doctor 60 "$PY" -m divekit doctor
step tests 150 "$PY" -m pytest -q -n 12 -p no:cacheprovider ${TESTS:-tests}
step lenet 150 "$PY" bench/main_job.py lenet --device cuda --repeat 1
