#!/usr/bin/env bash
# Every GPU path of gpunas, end to end, on one CUDA GPU, in under 8 minutes:
#   1. the GPU tests (pytest -m gpu): AMP training of a GPUNet-space network at 224 px from a class
#      folder, deterministic CUDA training, torch-CUDA / ONNX Runtime CUDA / TensorRT timing;
#   2. the workflow's GPU path (benchmarks/gpu_check.py): a torch-CUDA LUT of the tiny space,
#      fidelity, two trainings on the GPU, validate_hub on the GPU.
# Figures go to benchmarks/results/gpu_*.json (and to $OUT when the device tool runs it).
# Packages the GPU machine lacks travel as wheels in .whl/ (benchmarks/gpu_wheels.sh makes them).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  echo "gpu_check: no CUDA GPU here (torch.cuda.is_available() is False, or no torch): nothing checked" >&2
  exit 1
fi
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD/src:${PYTHONPATH:-} PYTHONUNBUFFERED=1
missing=$("$PY" - <<'PYEOF'
import importlib.util
need = ["snakemake", "skopt", "jsonschema", "yaml", "pandas", "pyarrow", "scipy", "sklearn", "onnx", "onnxruntime", "matplotlib", "PIL", "pytest"]
print(" ".join(n for n in need if importlib.util.find_spec(n) is None))
PYEOF
)
if [ -n "$missing" ]; then
  echo "gpu_check: missing packages: $missing (make their wheels with benchmarks/gpu_wheels.sh, carry .whl)" >&2
  exit 1
fi
mkdir -p benchmarks/results
start=$(date +%s)
set +e
timeout 240 "$PY" -m pytest -m gpu -q -p no:cacheprovider tests/gpu -rs 2>&1 | tee /tmp/gpu_pytest.log
tests_status=${PIPESTATUS[0]}
set -e
"$PY" benchmarks/gpu_check.py --pytest-log /tmp/gpu_pytest.log --pytest-status "$tests_status" --budget-s 330
echo "gpu_check: done in $(( $(date +%s) - start )) s"
if [ -n "${OUT:-}" ]; then cp benchmarks/results/gpu_*.json "$OUT"/ 2>/dev/null || true; fi
