#!/usr/bin/env bash
# Submit the Snakemake driver itself as a Slurm job; it submits the heavy rules as jobs of their own
# and runs the cheap ones (proposals, history, hub) on its own CPUs. From the workflow directory:
#
#   sbatch --partition=<partition> --account=<account> profiles/slurm/submit_driver.sh [snakemake args]
#
# Options given to sbatch override the #SBATCH lines below. The driver runs in the environment
# sbatch was called from (sbatch exports it), so activate the one with gpunas installed first.
#SBATCH --job-name=gpunas-driver
#SBATCH --cpus-per-task=2
#SBATCH --mem=4G
#SBATCH --time=3-00:00:00
#SBATCH --output=gpunas-driver-%j.log
# Why: 2 CPUs and 4 GB cover the local rules (a GP fit, ONNX export of a hub model); the driver
# mostly waits, but for the whole search, hence the long time limit. If it is cut off, run
# `snakemake --unlock` and submit it again: finished jobs are kept (README.md, "Operations").
set -euo pipefail
cd "${SLURM_SUBMIT_DIR:-.}"
exec snakemake --profile slurm --local-cores "${SLURM_CPUS_PER_TASK:-2}" "$@"
