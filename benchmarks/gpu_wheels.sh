#!/usr/bin/env bash
# Wheels of the packages gpunas needs that the GPU machine's image lacks (its list: the device
# tool's KINDS.md), for Python 3.12 on x86-64, into .whl/ (git-ignored through .git/info/exclude).
# Run here, where pip reaches PyPI; then carry .whl in the device tool's call to gpu_check.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
mkdir -p .whl
pip_download() {  # a wheel for Python 3.12 on x86-64; a pure-Python sdist is built into a wheel here
  for req in "$@"; do
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
      --platform any -d .whl "$req" 2>/dev/null || python3 -m pip wheel -q --no-deps -w .whl "$req"
  done
}
# gpunas's own needs missing there, then Snakemake and what it needs, at the versions tested here
pip_download jsonschema==4.26.0 jsonschema-specifications==2025.9.1 referencing==0.37.0 rpds-py==2026.9.1 \
  scikit-optimize==0.10.2 pyaml==26.7.0 \
  snakemake==9.27.1 snakemake-interface-common==1.23.0 snakemake-interface-executor-plugins==9.4.0 \
  snakemake-interface-storage-plugins==4.4.1 snakemake-interface-report-plugins==1.3.0 \
  snakemake-interface-logger-plugins==2.1.0 snakemake-interface-scheduler-plugins==2.0.2 \
  conda-inject==1.3.2 configargparse==1.9.0 connection-pool==0.0.3 docutils==0.22.4 dpath==2.2.0 \
  gitpython==3.2.1 gitdb==4.0.12 smmap==5.0.3 humanfriendly==10.0 immutables==0.21 nbformat==5.11.1 \
  fastjsonschema==2.22.3 jupyter-core==5.9.1 traitlets==5.16.1 pulp==3.3.2 smart-open==7.7.1 \
  throttler==1.2.3 yte==1.9.4 argparse-dataclass==2.0.0 tabulate==0.10.0 wrapt==2.5.2 sqlmodel==0.0.37 \
  sqlalchemy==2.0.58 pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 \
  greenlet==3.5.6 tenacity==9.2.1
du -sh .whl
