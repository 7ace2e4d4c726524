#!/usr/bin/env bash
# A one-node Slurm cluster on 127.0.0.1 for the tests, brought up and down by them:
#
#   tests/clusters/slurm.sh up STATE_DIR     installs slurm-wlm and munge if missing, starts
#                                            munged (unless one runs), slurmctld and slurmd,
#                                            and waits until the node takes jobs
#   tests/clusters/slurm.sh down STATE_DIR   stops exactly what `up` started, by PID
#
# Everything lives in STATE_DIR: slurm.conf, spool and state directories, logs and PID files.
# Commands talk to this cluster with SLURM_CONF=STATE_DIR/slurm.conf. Its MaxArraySize is 11,
# so arrays of more than 10 tasks are split. Needs root (the daemons run as root).
set -euo pipefail

cmd=${1:?usage: slurm.sh up|down STATE_DIR}
state=$(realpath -m "${2:?usage: slurm.sh up|down STATE_DIR}")

. "$(dirname "$0")/common.sh"

case $cmd in
down)
    # Cancel what is left of the tests' jobs and let their steps end before the daemons go.
    if [ -f "$state/slurmctld.pid" ] && kill -0 "$(cat "$state/slurmctld.pid")" 2>/dev/null; then
        export SLURM_CONF=$state/slurm.conf
        scancel --quiet --full --user="$(id -un)" 2>/dev/null || true
        for _ in $(seq 100); do
            [ -z "$(squeue -h 2>/dev/null)" ] && break
            sleep 0.1
        done
    fi
    stop_pidfile "$state/slurmd.pid"
    stop_pidfile "$state/slurmctld.pid"
    stop_pidfile "$state/munged.started.pid"
    exit 0
    ;;
up) ;;
*) echo "usage: slurm.sh up|down STATE_DIR" >&2; exit 2 ;;
esac

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi

mkdir -p "$state/ctld" "$state/spool" "$state/log"
host=$(hostname -s)
cpus=$(nproc)
mem=$(awk '/MemTotal/ { print int($2 / 1024 * 0.8) }' /proc/meminfo)

# munge: a key, its run directory (not made by the package in a container), the daemon.
if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge/munge.key
chmod 400 /etc/munge/munge.key
mkdir -p /run/munge
chown munge:munge /run/munge
chmod 755 /run/munge
if ! munge -n </dev/null >/dev/null 2>&1; then
    rm -f /run/munge/munged.pid
    runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 50); do [ -s /run/munge/munged.pid ] && break; sleep 0.1; done
    cp /run/munge/munged.pid "$state/munged.started.pid"
fi

cat >"$state/slurm.conf" <<CONF
ClusterName=xyztest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MaxArraySize=11
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$state/slurm.conf

slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 600); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
        exit 0
    fi
    sleep 0.1
done
echo "slurm.sh: the node did not come up; logs in $state/log" >&2
tail -n 20 "$state/log/"*.log >&2 || true
exit 1
