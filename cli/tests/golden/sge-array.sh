# sge script 1 of 1 (5 tasks): CROP/jobs/m-STAMP-1.sh
#!/bin/bash
#$ -N xyz-m
#$ -t 1-5
#$ -tc 2
#$ -S /bin/bash
#$ -j y
#$ -o CROP/jobs/logs
#$ -l h_rt=1:00:00
#$ -l h_vmem=2048M
#$ -pe smp 4
set -euo pipefail
export OMP_NUM_THREADS=4 MKL_NUM_THREADS=4 OPENBLAS_NUM_THREADS=4 NUMEXPR_NUM_THREADS=4 VECLIB_MAXIMUM_THREADS=4 RAYON_NUM_THREADS=4
# Array task k grows the batch on line k of the list.
batch=$(sed -n "${SGE_TASK_ID}p" CROP/jobs/m-STAMP-1.batches)
exec XYZ grow CROP --batches "$batch" -j 4 --quiet --watchdog process --canonicalize-nans --cache-dir CROP/cache
