#!/usr/bin/env bash
# A one-node Grid Engine cluster on this host for the tests, brought up and down by them:
#
#   tests/clusters/sge.sh up STATE_DIR     installs gridengine-master, -exec and -client if
#                                          missing, makes the cell (once), starts sge_qmaster
#                                          and sge_execd and waits until the queue takes jobs
#   tests/clusters/sge.sh down STATE_DIR   stops exactly what `up` started, by PID
#
# STATE_DIR gets the PID files and `env`, the variables (SGE_ROOT, SGE_CELL) that qsub and
# qconf need. Grid Engine keeps its cell in /var/lib/gridengine and its spool in
# /var/spool/gridengine. Needs root.
set -euo pipefail

cmd=${1:?usage: sge.sh up|down STATE_DIR}
state=$(realpath -m "${2:?usage: sge.sh up|down STATE_DIR}")
export SGE_ROOT=/var/lib/gridengine SGE_CELL=default
spool=/var/spool/gridengine

. "$(dirname "$0")/common.sh"

case $cmd in
down)
    if [ -f "$state/qmaster.pid" ]; then
        qdel -u "$(id -un)" >/dev/null 2>&1 || true
    fi
    stop_pidfile "$state/execd.pid"
    stop_pidfile "$state/qmaster.pid"
    exit 0
    ;;
up) ;;
*) echo "usage: sge.sh up|down STATE_DIR" >&2; exit 2 ;;
esac

if ! command -v sge_qmaster >/dev/null || ! command -v qsub >/dev/null \
    || ! command -v sge_execd >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        gridengine-master gridengine-exec gridengine-client >/dev/null
fi
mkdir -p "$state"
host=$(hostname)
cpus=$(nproc)
common=$SGE_ROOT/$SGE_CELL/common
echo "$host" >"$common/act_qmaster"
echo "$host localhost" >"$common/host_aliases"
chown sgeadmin:sgeadmin "$common/act_qmaster" "$common/host_aliases"

# The cell's spool, once (the package may have made it).
if [ ! -e "$spool/spooldb/sge" ]; then
    mkdir -p "$spool/spooldb" "$spool/qmaster" "$spool/execd"
    chown -R sgeadmin:sgeadmin "$spool"
    runuser -u sgeadmin -- /usr/lib/gridengine/spoolinit berkeleydb libspoolb "$spool/spooldb" init
    runuser -u sgeadmin -- /usr/lib/gridengine/spooldefaults configuration \
        /usr/share/gridengine/default-configuration
    runuser -u sgeadmin -- /usr/lib/gridengine/spooldefaults complexes \
        /usr/share/gridengine/util/resources/centry
    runuser -u sgeadmin -- /usr/lib/gridengine/spooldefaults usersets \
        /usr/share/gridengine/util/resources/usersets
    runuser -u sgeadmin -- /usr/lib/gridengine/spooldefaults managers root
fi

cat >"$state/env" <<ENV
SGE_ROOT=$SGE_ROOT
SGE_CELL=$SGE_CELL
ENV

rm -f "$spool/qmaster/qmaster.pid"
/usr/sbin/sge_qmaster
for _ in $(seq 100); do [ -s "$spool/qmaster/qmaster.pid" ] && break; sleep 0.1; done
cp "$spool/qmaster/qmaster.pid" "$state/qmaster.pid"
for _ in $(seq 100); do qconf -sconf >/dev/null 2>&1 && break; sleep 0.2; done

# Root may run jobs; loads are reported every 2 seconds; this host submits and runs jobs; the
# scheduler runs every second; one queue with a slot per core and no parallel environments.
qconf -ah "$host" >/dev/null 2>&1 || true
qconf -as "$host" >/dev/null 2>&1 || true
work=$(mktemp -d)
qconf -sconf global | sed -e 's/^min_uid .*/min_uid 0/' -e 's/^min_gid .*/min_gid 0/' \
    -e 's/^load_report_time .*/load_report_time 00:00:02/' >"$work/global"
qconf -Mconf "$work/global" >/dev/null
qconf -ssconf | sed -e 's/^schedule_interval .*/schedule_interval                 0:0:1/' \
    >"$work/sched"
qconf -Msconf "$work/sched" >/dev/null
if ! qconf -se "$host" >/dev/null 2>&1; then
    cat >"$work/exechost" <<HOST
hostname              $host
load_scaling          NONE
complex_values        NONE
user_lists            NONE
xuser_lists           NONE
projects              NONE
xprojects             NONE
usage_scaling         NONE
report_variables      NONE
HOST
    qconf -Ae "$work/exechost" >/dev/null
fi
if ! qconf -sq all.q >/dev/null 2>&1; then
    cat >"$work/queue" <<QUEUE
qname                 all.q
hostlist              $host
seq_no                0
load_thresholds       NONE
suspend_thresholds    NONE
nsuspend              1
suspend_interval      00:05:00
priority              0
min_cpu_interval      00:05:00
processors            UNDEFINED
qtype                 BATCH INTERACTIVE
ckpt_list             NONE
pe_list               NONE
rerun                 FALSE
slots                 $cpus
tmpdir                /tmp
shell                 /bin/bash
prolog                NONE
epilog                NONE
shell_start_mode      posix_compliant
starter_method        NONE
suspend_method        NONE
resume_method         NONE
terminate_method      NONE
notify                00:00:60
owner_list            NONE
user_lists            NONE
xuser_lists           NONE
subordinate_list      NONE
complex_values        NONE
projects              NONE
xprojects             NONE
calendar              NONE
initial_state         default
s_rt                  INFINITY
h_rt                  INFINITY
s_cpu                 INFINITY
h_cpu                 INFINITY
s_fsize               INFINITY
h_fsize               INFINITY
s_data                INFINITY
h_data                INFINITY
s_stack               INFINITY
h_stack               INFINITY
s_core                INFINITY
h_core                INFINITY
s_rss                 INFINITY
h_rss                 INFINITY
s_vmem                INFINITY
h_vmem                INFINITY
QUEUE
    qconf -Aq "$work/queue" >/dev/null
fi
rm -rf "$work"

# The execd spools under the name it resolves for itself (localhost or the host's).
rm -f "$spool"/execd/*/execd.pid
/usr/sbin/sge_execd
for _ in $(seq 100); do
    execd_pid=$(ls "$spool"/execd/*/execd.pid 2>/dev/null | head -n 1 || true)
    [ -n "$execd_pid" ] && [ -s "$execd_pid" ] && break
    sleep 0.1
done
cp "$execd_pid" "$state/execd.pid"

# Up once the queue instance reports a load (its state loses the `u`, unknown).
for _ in $(seq 600); do
    states=$(qstat -f -q all.q 2>/dev/null | awk -v h="all.q@$host" '$1 == h { print $6 }')
    if qstat -f -q all.q 2>/dev/null | grep -q "all.q@$host" && [[ "$states" != *u* ]]; then
        exit 0
    fi
    sleep 0.1
done
echo "sge.sh: the queue did not come up" >&2
qstat -f >&2 || true
exit 1
