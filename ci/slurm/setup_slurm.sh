#!/usr/bin/env bash
# Bring up, inspect or stop a real single-node SLURM cluster on this machine, so that the
# driftqc workflow can be submitted with `snakemake --executor slurm` in CI.
#
#   ci/slurm/setup_slurm.sh start    # install (Debian packages), configure, start; idempotent
#   ci/slurm/setup_slurm.sh status   # exit 0 if every daemon runs and the node takes jobs
#   ci/slurm/setup_slurm.sh stop     # stop the daemons this script starts (by their pid files)
#   ci/slurm/setup_slurm.sh smoke    # submit one tiny job and wait for its accounting record
#
# Needs root, Debian 12 (slurm-wlm 22.05) and an apt mirror. Works without systemd: every
# daemon is started here and writes its own pid file. Accounting (slurmdbd + MariaDB) is on
# by default, because snakemake-executor-plugin-slurm polls job states with `sacct` whenever
# the binary exists; without a database that query fails forever and snakemake hangs.
#
# Settings (environment):
#   DRIFTQC_SLURM_ACCOUNTING  slurmdbd (default) | none (then run snakemake with
#                             --slurm-status-command squeue; MinJobAge below keeps finished
#                             jobs visible to squeue for 10 minutes)
#   DRIFTQC_SLURM_PARTITION   partition name, default "debug" (the default partition)
#   DRIFTQC_SLURM_CPUS        CPUs of the node, default `nproc`
#   DRIFTQC_SLURM_MEM_MB      memory of the node, default 80 % of MemTotal (a node that
#                             advertises more than slurmd finds is drained)
#   DRIFTQC_SLURM_APT_TIMEOUT seconds allowed for apt-get update + install, default 300
#
# Every wait has a deadline: a daemon that does not come up makes this script fail with the
# log file to read, it never hangs. Nothing is ever killed by name.

set -euo pipefail

ACTION="${1:-start}"
ACCOUNTING="${DRIFTQC_SLURM_ACCOUNTING:-slurmdbd}"
PARTITION="${DRIFTQC_SLURM_PARTITION:-debug}"
APT_TIMEOUT="${DRIFTQC_SLURM_APT_TIMEOUT:-300}"
NODE="$(hostname -s)"
CPUS="${DRIFTQC_SLURM_CPUS:-$(nproc)}"
MEM_MB="${DRIFTQC_SLURM_MEM_MB:-$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.8}' /proc/meminfo)}"
# Only reachable through the local unix socket / 127.0.0.1; not a secret.
DB_PASSWORD="driftqc-ci-local"

RUN_SLURM=/run/slurm
LOG_DIR=/var/log/slurm
STATE_DIR=/var/lib/slurm
# daemon name -> pid file written by the daemon itself (start order)
DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd)
declare -A PIDFILE=(
    [munged]=/run/munge/munged.pid
    [mariadbd]=/run/mysqld/mysqld.pid
    [slurmdbd]=$RUN_SLURM/slurmdbd.pid
    [slurmctld]=$RUN_SLURM/slurmctld.pid
    [slurmd]=$RUN_SLURM/slurmd.pid
)

say() { echo "[setup_slurm] $*" >&2; }
fail() {
    say "FAILED: $*"
    exit 1
}

# -- process helpers ---------------------------------------------------------------------

# running NAME: the daemon's pid file names a live process whose command is NAME.
running() {
    local pid
    pid="$(tr -dc '0-9' 2>/dev/null <"${PIDFILE[$1]}" || true)"
    [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" = "$1" ]
}

# stop_daemon NAME: SIGTERM the pid from NAME's pid file, SIGKILL that pid after 15 s.
stop_daemon() {
    local name="$1" pid
    running "$name" || return 0
    pid="$(tr -dc '0-9' <"${PIDFILE[$name]}")"
    say "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 75); do
        [ -e "/proc/$pid" ] || break
        sleep 0.2
    done
    if [ -e "/proc/$pid" ]; then
        say "$name (pid $pid) did not stop on SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "${PIDFILE[$name]}"
}

# until_ok SECONDS COMMAND...: retry COMMAND every 0.5 s until it succeeds or the deadline
# passes. COMMAND must bound its own run time (`timeout 10 ...`).
until_ok() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.5
    done
}

# install_file PATH MODE: write stdin to PATH only if the content differs; return 0 when
# the file changed (so the caller knows a daemon must re-read it).
install_file() {
    local path="$1" mode="$2" tmp
    tmp="$(mktemp)"
    cat >"$tmp"
    if [ -f "$path" ] && cmp -s "$tmp" "$path"; then
        rm -f "$tmp"
        return 1
    fi
    install -m "$mode" "$tmp" "$path"
    rm -f "$tmp"
}

# -- packages ----------------------------------------------------------------------------

install_packages() {
    local wanted=(slurmctld slurmd slurm-client munge) missing=()
    [ "$ACCOUNTING" = slurmdbd ] && wanted+=(slurmdbd mariadb-server)
    for p in "${wanted[@]}"; do
        dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    command -v apt-get >/dev/null || fail "apt-get not found; install ${missing[*]} by hand"
    say "installing ${missing[*]}"
    # Recommends (pmix, mail tools, perl extras) are not needed on a test node. The
    # packages' service start-up is refused without an init system; we start daemons below.
    timeout "$APT_TIMEOUT" apt-get update -qq || fail "apt-get update failed or timed out"
    DEBIAN_FRONTEND=noninteractive timeout "$APT_TIMEOUT" \
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
        fail "apt-get install ${missing[*]} failed or timed out"
}

# -- daemons -----------------------------------------------------------------------------

start_munge() {
    [ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
    chown -R munge:munge /etc/munge
    chmod 0700 /etc/munge
    chmod 0600 /etc/munge/munge.key
    install -d -o munge -g munge -m 0755 /run/munge
    running munged && return 0
    say "starting munged"
    rm -f /run/munge/munge.socket.2.lock # left behind by a killed munged
    timeout 20 runuser -u munge -- /usr/sbin/munged --pid-file="${PIDFILE[munged]}" ||
        fail "munged did not start; see /var/log/munge/munged.log"
    until_ok 20 timeout 10 bash -c 'munge -n | unmunge' || fail "munge does not answer"
}

start_mariadb() {
    install -d -o mysql -g mysql -m 0755 /run/mysqld
    [ -d /var/lib/mysql/mysql ] || timeout 120 mariadb-install-db --user=mysql >/dev/null
    if ! running mariadbd; then
        say "starting mariadbd"
        # mariadbd does not daemonize itself: run it in the background (it writes its pid
        # file); setsid detaches it from the caller's process group and terminal.
        setsid /usr/sbin/mariadbd --user=mysql --pid-file="${PIDFILE[mariadbd]}" \
            --bind-address=127.0.0.1 --innodb-buffer-pool-size=64M \
            </dev/null >>/var/log/driftqc-ci-mariadb.log 2>&1 &
        until_ok 60 timeout 10 mariadb-admin ping ||
            fail "MariaDB did not start; see /var/log/driftqc-ci-mariadb.log"
    fi
    # root reaches MariaDB through the unix socket (Debian's default authentication)
    timeout 30 mariadb <<SQL || fail "could not create the accounting database"
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '${DB_PASSWORD}';
ALTER USER 'slurm'@'localhost' IDENTIFIED BY '${DB_PASSWORD}';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
SQL
}

write_slurm_conf() {
    local accounting
    if [ "$ACCOUNTING" = slurmdbd ]; then
        # job_comment: sacct shows the comment snakemake gives each job (rule, wildcards)
        accounting="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
AccountingStoreFlags=job_comment
JobAcctGatherType=jobacct_gather/linux"
    else
        accounting="AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none"
    fi
    # proctrack/linuxproc + task/none: no cgroups needed (containers, VMs), so no CPU or
    # memory enforcement either. CR_Core_Memory makes memory a consumable, so every job
    # must ask for mem_mb (the slurm profile's default-resources do) or it takes the node.
    # MinJobAge=600 keeps finished jobs in squeue for 10 min (the squeue status mode).
    # ReturnToService=2 lets a node that was down rejoin by itself after a restart.
    install_file /etc/slurm/slurm.conf 0644 <<EOF
# Written by driftqc ci/slurm/setup_slurm.sh for a single-node test cluster.
ClusterName=driftqc-ci
SlurmctldHost=${NODE}(127.0.0.1)
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=${STATE_DIR}/slurmctld
SlurmdSpoolDir=${STATE_DIR}/slurmd
SlurmctldPidFile=${PIDFILE[slurmctld]}
SlurmdPidFile=${PIDFILE[slurmd]}
SlurmctldLogFile=${LOG_DIR}/slurmctld.log
SlurmdLogFile=${LOG_DIR}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=600
JobCompType=jobcomp/none
${accounting}
NodeName=${NODE} NodeAddr=127.0.0.1 CPUs=${CPUS} RealMemory=${MEM_MB} State=UNKNOWN
PartitionName=${PARTITION} Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

write_slurmdbd_conf() {
    local changed=1
    install_file /etc/slurm/slurmdbd.conf 0600 <<EOF && changed=0
# Written by driftqc ci/slurm/setup_slurm.sh for a single-node test cluster.
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=slurm
LogFile=${LOG_DIR}/slurmdbd.log
PidFile=${PIDFILE[slurmdbd]}
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=${DB_PASSWORD}
StorageLoc=slurm_acct_db
EOF
    # slurmdbd refuses a config that is not owned by SlurmUser with mode 600
    chown slurm:slurm /etc/slurm/slurmdbd.conf
    return "$changed"
}

node_usable() {
    case "$(timeout 10 sinfo -h -N -n "$NODE" -o %T 2>/dev/null | head -1)" in
    idle* | mixed* | allocated* | completing*) return 0 ;;
    *) return 1 ;;
    esac
}

start_slurm() {
    install -d -o slurm -g slurm -m 0755 "$RUN_SLURM" "$LOG_DIR" "$STATE_DIR" \
        "$STATE_DIR/slurmctld"
    install -d -m 0755 "$STATE_DIR/slurmd"
    # slurmd finds its NodeName through `hostname -s`, which must resolve
    getent hosts "$NODE" >/dev/null || echo "127.0.0.1 $NODE" >>/etc/hosts

    local conf_changed=1
    write_slurm_conf && conf_changed=0
    if [ "$ACCOUNTING" = slurmdbd ]; then
        if write_slurmdbd_conf; then stop_daemon slurmdbd; fi # re-read below
        if ! running slurmdbd; then
            say "starting slurmdbd"
            timeout 30 /usr/sbin/slurmdbd || fail "slurmdbd did not start; see $LOG_DIR/slurmdbd.log"
        fi
        # the first start creates the tables; sacctmgr answers once slurmdbd is ready
        until_ok 60 timeout 10 sacctmgr -n list cluster ||
            fail "slurmdbd does not answer; see $LOG_DIR/slurmdbd.log"
    else
        stop_daemon slurmdbd
    fi
    if [ "$conf_changed" = 0 ]; then # the daemons must re-read slurm.conf
        stop_daemon slurmd
        stop_daemon slurmctld
    fi
    if ! running slurmctld; then
        say "starting slurmctld"
        timeout 30 /usr/sbin/slurmctld || fail "slurmctld did not start; see $LOG_DIR/slurmctld.log"
    fi
    until_ok 60 timeout 10 bash -c 'scontrol ping | grep -q UP' ||
        fail "slurmctld does not answer; see $LOG_DIR/slurmctld.log"
    if ! running slurmd; then
        say "starting slurmd"
        timeout 30 /usr/sbin/slurmd || fail "slurmd did not start; see $LOG_DIR/slurmd.log"
    fi
    if ! until_ok 30 node_usable; then
        say "node $NODE is not idle yet; resuming it"
        timeout 10 scontrol update NodeName="$NODE" State=RESUME || true
        until_ok 30 node_usable ||
            fail "node $NODE is '$(sinfo -h -N -o %T 2>/dev/null)'; see $LOG_DIR/slurm*.log"
    fi
}

# -- actions -----------------------------------------------------------------------------

do_start() {
    case "$ACCOUNTING" in slurmdbd | none) ;; *) fail "DRIFTQC_SLURM_ACCOUNTING must be slurmdbd or none" ;; esac
    install_packages
    start_munge
    if [ "$ACCOUNTING" = slurmdbd ]; then start_mariadb; fi
    start_slurm
    say "up in ${SECONDS}s: $(sinfo -h -o '%P %a %D %T %N') (accounting: $ACCOUNTING)"
}

do_status() {
    local ok=0 name
    for name in "${DAEMONS[@]}"; do
        if running "$name"; then
            echo "$name: running (pid $(tr -dc '0-9' <"${PIDFILE[$name]}"))"
        else
            echo "$name: stopped"
            case "$name" in mariadbd | slurmdbd) [ "$ACCOUNTING" = none ] || ok=1 ;; *) ok=1 ;; esac
        fi
    done
    command -v sinfo >/dev/null && { timeout 10 sinfo 2>&1 || true; }
    node_usable || ok=1
    return "$ok"
}

do_stop() {
    local i
    for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do stop_daemon "${DAEMONS[i]}"; done
}

do_smoke() {
    local dir job
    dir="$(mktemp -d)"
    job="$(timeout 120 sbatch --parsable --wait -p "$PARTITION" --mem 10 -t 1 \
        -o "$dir/%j.out" --wrap 'hostname')" || fail "sbatch --wait failed"
    say "job $job ran on $(cat "$dir/$job.out")"
    rm -rf "$dir"
    if [ "$ACCOUNTING" = slurmdbd ]; then
        # completion reaches slurmdbd asynchronously
        until_ok 30 timeout 10 bash -c "sacct -X -n -P -o State -j $job | grep -q COMPLETED" ||
            fail "sacct has no COMPLETED record of job $job"
    fi
    say "smoke test passed"
}

[ "$(id -u)" -eq 0 ] || fail "must run as root (installs packages and starts system daemons)"
case "$ACTION" in
start) do_start ;;
status) do_status ;;
stop) do_stop ;;
smoke) do_smoke ;;
*) fail "usage: $0 start|status|stop|smoke" ;;
esac
