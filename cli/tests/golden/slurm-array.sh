# slurm script 1 of 1 (5 tasks): CROP/jobs/m-STAMP-1.sh
#!/bin/bash
#SBATCH --job-name=xyz-m
#SBATCH --array=1-5%2
#SBATCH --output=CROP/jobs/logs/%x-%A_%a.out
#SBATCH --time=1:00:00
#SBATCH --mem=2048M
#SBATCH --cpus-per-task=4
#SBATCH --partition=long
set -euo pipefail
export OMP_NUM_THREADS=4 MKL_NUM_THREADS=4 OPENBLAS_NUM_THREADS=4 NUMEXPR_NUM_THREADS=4 VECLIB_MAXIMUM_THREADS=4 RAYON_NUM_THREADS=4
# Array task k grows the batch on line k of the list.
batch=$(sed -n "${SLURM_ARRAY_TASK_ID}p" CROP/jobs/m-STAMP-1.batches)
exec XYZ grow CROP --batches "$batch" -j 4 --quiet --watchdog process --canonicalize-nans --cache-dir CROP/cache
