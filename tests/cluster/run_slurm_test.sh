#!/usr/bin/env bash
# Runs a slice of the quick study that uses every rule (data, train (with evaluation), train_ann,
# convert, aggregate, claims, figures, notebook) on a real single-node SLURM (Debian's slurm-wlm +
# munge on loopback) with the README's `make cluster` command, and checks that every job went
# through SLURM and that the tables equal those of a local run byte for byte.
#
# Needs root and apt-get (Debian). Exits 77 when it cannot run here, 0 on success.
# Starts munged, slurmctld and slurmd, records their PIDs and stops exactly those at the end.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
if [ "$(id -u)" != 0 ] || ! command -v apt-get > /dev/null; then
    echo "SLURM test not run: needs root and apt-get"
    exit 77
fi
for daemon in slurmctld slurmd; do
    if pgrep -x "$daemon" > /dev/null; then
        echo "SLURM test: a $daemon is already running; refusing to start a second one" >&2
        exit 1
    fi
done

WORK=$(mktemp -d /tmp/spikesparse-slurm.XXXXXX)
STARTED=()  # PIDs this script started, stopped in reverse order on exit
cleanup() {
    for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do
        pid=${STARTED[i]}
        kill "$pid" 2> /dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2> /dev/null || true
    done
    echo "SLURM test: stopped daemons ${STARTED[*]:-none}; logs kept in $WORK"
}
trap cleanup EXIT

echo "SLURM test: installing slurm-wlm and munge"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm slurmctld slurmd slurm-client munge > "$WORK/apt.log" 2>&1

mkdir -p /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge /etc/slurm
chown munge:munge /run/munge
CPUS=$(nproc)
MEM_MB=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 2048 ))
cat > /etc/slurm/slurm.conf << CONF
ClusterName=spikesparse-test
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=600
KillWait=5
NodeName=localhost NodeAddr=127.0.0.1 NodeHostname=localhost CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF

if ! pgrep -x munged > /dev/null; then
    su -s /bin/sh munge -c /usr/sbin/munged
    for _ in $(seq 50); do [ -s /run/munge/munged.pid ] && break; sleep 0.1; done
    STARTED+=("$(cat /run/munge/munged.pid)")
fi
/usr/sbin/slurmctld -D > "$WORK/slurmctld.out" 2>&1 &
STARTED+=($!)
/usr/sbin/slurmd -D -N localhost > "$WORK/slurmd.out" 2>&1 &
STARTED+=($!)
for _ in $(seq 100); do
    sinfo -h -o %T 2> /dev/null | grep -q idle && break
    sleep 0.2
done
sinfo

cd "$REPO"
make env > "$WORK/env.log" 2>&1
# E1 with two methods and one seed, and one conversion job: every rule, few jobs.
.venv/bin/python - "$WORK/slurm.yaml" << 'PY'
import sys

import yaml

cfg = yaml.safe_load(open("config/quick.yaml"))
cfg.pop("regime_maps", None)
e1 = cfg["experiments"]["e1"]
e1["methods"] = {k: e1["methods"][k] for k in ("baseline", "homeostatic_l2")}
e1["training"]["seeds"] = [0]
cfg["experiments"] = {"e1": e1}
cfg["conversions"]["e4_digits"]["ann"]["seeds"] = [0]
yaml.safe_dump(cfg, open(sys.argv[1], "w"))
PY
echo "SLURM test: local reference run"
make study CONFIG="$WORK/slurm.yaml" WORKDIR="$WORK/local" > "$WORK/local.log" 2>&1

echo "SLURM test: the same study through SLURM"
# README "Running on a cluster"; this test cluster has no accounting database, hence the flags.
make cluster PARTITION=debug CONFIG="$WORK/slurm.yaml" WORKDIR="$WORK/slurm" \
    SLURM_ARGS="--slurm-no-account --slurm-status-command squeue --slurm-init-seconds-before-status-checks 2 --slurm-logdir $WORK/slurm/results/logs/slurm" \
    > "$WORK/slurm.log" 2>&1 || { tail -50 "$WORK/slurm.log"; exit 1; }

expected=$(awk '/^total/ {t=$2} /^all / {a=$2} END {print t - a}' "$WORK/slurm.log")
# The SLURM job ids this run submitted, and the state SLURM reports for each of them.
sed -n 's/.*submitted with SLURM jobid \([0-9]*\).*/\1/p' "$WORK/slurm.log" | sort -u > "$WORK/jobids"
submitted=$(wc -l < "$WORK/jobids")
job_logs=0
completed=0
while read -r id; do
    [ -n "$(find "$WORK/slurm/results/logs/slurm" -name "$id.log")" ] && job_logs=$((job_logs + 1))
    state=$(squeue -h --states=all -j "$id" -o %T 2> /dev/null || true)
    [ "$state" = COMPLETED ] && completed=$((completed + 1))
done < "$WORK/jobids"
echo "SLURM test: $expected jobs expected, $submitted submitted to SLURM, $job_logs with a SLURM log, $completed COMPLETED in squeue"
[ "$expected" -gt 0 ] && [ "$submitted" -eq "$expected" ] && [ "$job_logs" -eq "$expected" ] \
    && [ "$completed" -eq "$expected" ] || { echo "SLURM test: not every job went through SLURM" >&2; exit 1; }

for table in runs history neuron_rates conversion claims; do
    cmp "$WORK/local/results/tables/$table.csv" "$WORK/slurm/results/tables/$table.csv"
done
test -s "$WORK/slurm/results/report.html"
echo "SLURM test: passed (tables identical to the local run)"
