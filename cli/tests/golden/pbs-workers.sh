# pbs script 1 of 1 (4 tasks): CROP/jobs/m-STAMP-1.sh
#!/bin/bash
#PBS -N xyz-m
#PBS -J 1-4
#PBS -j oe
#PBS -o CROP/jobs/logs
#PBS -l select=1:ncpus=1
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMEXPR_NUM_THREADS=1 VECLIB_MAXIMUM_THREADS=1 RAYON_NUM_THREADS=1
# Every task is a worker, claiming batches until none is left.
exec XYZ grow CROP --worker -j 1 --quiet --watchdog process --canonicalize-nans --cache-dir CROP/cache --lease 2m
