#!/usr/bin/env bash
# Issue #19's checks on a lent machine with 16 cores and one GPU (the workplace's `device` tool),
# run from the repository root with the wheels that machine lacks in .whl/ (performance.md says
# which). Usage: bash benchmarks/device_checks.sh [all|batch|gpu]; results under $OUT.
#   batch: benchmarks/bench_batch.py, 24 jobs (the 12 at two seeds) at 1, 4 and 16 workers, after
#          one short batch that warms the disk caches (the setting: warm caches);
#   gpu:   benchmarks/bench_gpu.py, nutpie on the CPUs against numpyro on the GPU (bayescale's
#          program and PyMC's JAX path side by side).
set -u
OUT=${OUT:-/tmp/device-out}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 3
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore
{
    python3 --version
    nproc
    nvidia-smi -L
    python3 -m pip list 2>/dev/null |
        grep -iE "^(numpy|numba|llvmlite|scipy|pandas|xarray|jax|jaxlib|numpyro|pyarrow) "
} 2>&1 | tee "$OUT/env.txt"
python3 -c "import bayescale, nutpie, pymc; print('imports ok')" 2>&1 | tee -a "$OUT/env.txt"
[ "${PIPESTATUS[0]}" = 0 ] || exit 4
part=${1:-all}
if [ "$part" = all ] || [ "$part" = batch ]; then
    timeout 90 python3 benchmarks/bench_batch.py --workers 2 --draws 50 --tune 50 \
        >"$OUT/warm.txt" 2>&1
    timeout 280 python3 benchmarks/bench_batch.py --workers 1,4,16 --seeds 2 2>&1 |
        tee "$OUT/batch.txt"
fi
if [ "$part" = all ] || [ "$part" = gpu ]; then
    timeout 280 python3 benchmarks/bench_gpu.py 2>&1 | tee "$OUT/gpu.txt"
fi
