# sge script 1 of 1 (1 task): CROP/jobs/m-STAMP-1.sh
#!/bin/bash
#$ -N xyz-m
#$ -t 1-1
#$ -S /bin/bash
#$ -j y
#$ -o CROP/jobs/logs
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMEXPR_NUM_THREADS=1 VECLIB_MAXIMUM_THREADS=1 RAYON_NUM_THREADS=1
# Every task is a worker, claiming batches until none is left.
exec XYZ grow CROP --worker -j 1 --quiet --watchdog process --canonicalize-nans --cache-dir CROP/cache --lease 60s
