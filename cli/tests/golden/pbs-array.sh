# pbs script 1 of 2 (3 tasks): CROP/jobs/m-STAMP-1.sh
#!/bin/bash
#PBS -N xyz-m
#PBS -J 1-3%2
#PBS -j oe
#PBS -o CROP/jobs/logs
#PBS -l walltime=1:00:00
#PBS -l select=1:ncpus=4:mem=2048mb
#PBS -q workq
set -euo pipefail
export OMP_NUM_THREADS=4 MKL_NUM_THREADS=4 OPENBLAS_NUM_THREADS=4 NUMEXPR_NUM_THREADS=4 VECLIB_MAXIMUM_THREADS=4 RAYON_NUM_THREADS=4
module load gcc
# Array task k grows the batch on line k of the list.
batch=$(sed -n "${PBS_ARRAY_INDEX:-1}p" CROP/jobs/m-STAMP-1.batches)
exec XYZ grow CROP --batches "$batch" -j 4 --quiet --watchdog process --canonicalize-nans --cache-dir CROP/cache
# pbs script 2 of 2 (2 tasks): CROP/jobs/m-STAMP-2.sh
#!/bin/bash
#PBS -N xyz-m
#PBS -J 1-2%2
#PBS -j oe
#PBS -o CROP/jobs/logs
#PBS -l walltime=1:00:00
#PBS -l select=1:ncpus=4:mem=2048mb
#PBS -q workq
set -euo pipefail
export OMP_NUM_THREADS=4 MKL_NUM_THREADS=4 OPENBLAS_NUM_THREADS=4 NUMEXPR_NUM_THREADS=4 VECLIB_MAXIMUM_THREADS=4 RAYON_NUM_THREADS=4
module load gcc
# Array task k grows the batch on line k of the list.
batch=$(sed -n "${PBS_ARRAY_INDEX:-1}p" CROP/jobs/m-STAMP-2.batches)
exec XYZ grow CROP --batches "$batch" -j 4 --quiet --watchdog process --canonicalize-nans --cache-dir CROP/cache
