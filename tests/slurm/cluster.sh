#!/usr/bin/env bash
# A real single-node Slurm cluster for the tests: munged, a private MariaDB, slurmdbd, slurmctld
# and slurmd on this machine, started by hand (no systemd). Needs root and Debian's packages.
#
#   bash tests/slurm/cluster.sh install   # apt-get install the packages if missing (exit 3: no apt)
#   bash tests/slurm/cluster.sh start     # write the configs, start every daemon, wait until idle
#   bash tests/slurm/cluster.sh status    # exit 0 when every daemon is up
#   bash tests/slurm/cluster.sh stop      # stop each daemon by the pid in its own pid file
#
# start and stop are idempotent. Facts behind the choices: ../shared/design/SLURM.md.
# Jobs go to partition $PARTITION with account $ACCOUNT (the names tests/slurm/profile uses).
set -euo pipefail

STATE=${GPUNAS_SLURM_STATE:-/var/lib/gpunas-slurm} # datadir, spool, pid and log files
DB_PORT=${GPUNAS_SLURM_DB_PORT:-3307}              # private MariaDB, loopback only
CLUSTER=gpunas
PARTITION=ci
ACCOUNT=gpunas-ci
GPUS=${GPUNAS_SLURM_GPUS:-4} # virtual GPUs of the node (gres without devices)
# Virtual CPUs of the node: unset, the machine's own (slurmd -C); set (e.g. 64 with 48 GPUs), a
# simulated cluster node that runs that many one-CPU jobs at once on this machine (for jobs that
# sleep or look up; slurmd's config_overrides trusts the node line). `start` applies a change only
# after `stop`.
CPUS=${GPUNAS_SLURM_CPUS:-}
# The jobstep plugin strips every SLURM_* variable (SLURM_CONF too) before its inner srun, so the
# configs must sit at the compiled-in path.
CONF_DIR=/etc/slurm
MARK="# Written by gpunas tests/slurm/cluster.sh"
PACKAGES=(slurm-wlm slurm-client munge slurmdbd mariadb-server)
COMMANDS=(slurmctld slurmd slurmdbd sbatch sacct sacctmgr munged mariadbd mariadb-install-db)

MUNGE_PID=/run/munge/munged.pid
DB_DIR=$STATE/mysql
DB_RUN=$STATE/mysql-run # owned by mysql: socket, pid file, error log
DB_SOCK=$DB_RUN/mariadbd.sock
DB_PID=$DB_RUN/mariadbd.pid
DBD_PID=$STATE/slurmdbd.pid
CTLD_PID=$STATE/slurmctld.pid
SLURMD_PID=$STATE/slurmd.pid
HOST=$(hostname -s)

die() {
	echo "cluster.sh: error: $*" >&2
	exit 1
}
say() { echo "cluster.sh: $*" >&2; }

need_root() { [[ $(id -u) -eq 0 ]] || die "must run as root (it installs packages and starts daemons)"; }

missing_commands() {
	local c out=()
	for c in "${COMMANDS[@]}"; do command -v "$c" >/dev/null || out+=("$c"); done
	echo "${out[*]}"
}

# A stopped daemon stays a zombie until PID 1 reaps it, which some container inits do late.
running() { kill -0 "$1" 2>/dev/null && [[ $(ps -o stat= -p "$1") != Z* ]]; }
alive() { [[ -s $1 ]] && running "$(cat "$1")"; }

# wait_for SECONDS WHAT COMMAND...: poll COMMAND every 0.5 s until it succeeds.
wait_for() {
	local seconds=$1 what=$2
	shift 2
	local deadline=$((SECONDS + seconds))
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || die "$what not ready after ${seconds}s (logs in $STATE/log, $DB_RUN)"
		sleep 0.5
	done
}

cmd_install() {
	local missing
	missing=$(missing_commands)
	if [[ -z $missing ]]; then
		say "packages already installed"
		return
	fi
	need_root
	if ! command -v apt-get >/dev/null; then
		echo "cluster.sh: apt-get not found: install ${PACKAGES[*]} by hand" >&2
		exit 3 # tells the test fixture to skip
	fi
	say "installing ${PACKAGES[*]} (missing: $missing)"
	# Keep the packages' init scripts from starting daemons (no systemd here; start does that).
	local policy=/usr/sbin/policy-rc.d own_policy=0
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		own_policy=1
	fi
	local rc=0
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >/dev/null ||
		{ apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >/dev/null; } ||
		rc=$?
	((own_policy)) && rm -f "$policy"
	((rc == 0)) || die "apt-get install failed ($rc)"
	missing=$(missing_commands)
	[[ -z $missing ]] || die "still missing after install: $missing"
}

# write_conf PATH MODE: write stdin to PATH unless a file not written by this script is there.
write_conf() {
	local path=$1 mode=$2 tmp
	if [[ -e $path ]] && ! head -n1 "$path" | grep -qxF "$MARK"; then
		die "$path exists and was not written by this script; refusing to overwrite it"
	fi
	tmp=$(mktemp "$path.XXXXXX")
	{
		echo "$MARK"
		cat
	} >"$tmp"
	chmod "$mode" "$tmp"
	mv "$tmp" "$path"
}

write_configs() {
	mkdir -p "$CONF_DIR" "$STATE/log" "$STATE/slurmctld" "$STATE/slurmd"
	# The node as slurmd sees it (CPUs, sockets, cores, threads, RealMemory).
	local node overrides=""
	node=$(slurmd -C | head -n1)
	if [[ -n $CPUS ]]; then
		[[ $CPUS =~ ^[1-9][0-9]*$ ]] || die "GPUNAS_SLURM_CPUS=$CPUS is not a positive integer"
		node="NodeName=$HOST CPUs=$CPUS Boards=1 SocketsPerBoard=1 CoresPerSocket=$CPUS ThreadsPerCore=1 $(grep -o 'RealMemory=[0-9]*' <<<"$node")"
		overrides="SlurmdParameters=config_overrides"
	fi
	write_conf "$CONF_DIR/slurm.conf" 644 <<-EOF
		ClusterName=$CLUSTER
		SlurmctldHost=$HOST(127.0.0.1)
		SlurmUser=root
		AuthType=auth/munge
		# job credentials live 30 s (default 120): a requeued job (preemption, node failure) waits
		# that long plus 1 s before it starts again, instead of ~2 minutes
		AuthInfo=cred_expire=30
		MpiDefault=none
		MailProg=/bin/true
		ProctrackType=proctrack/linuxproc
		# the jobstep's srun --cpu-bind needs an affinity plugin
		TaskPlugin=task/affinity
		SelectType=select/cons_tres
		SelectTypeParameters=CR_Core_Memory
		ReturnToService=2
		MinJobAge=300
		StateSaveLocation=$STATE/slurmctld
		SlurmdSpoolDir=$STATE/slurmd
		SlurmctldPidFile=$CTLD_PID
		SlurmdPidFile=$SLURMD_PID
		SlurmctldLogFile=$STATE/log/slurmctld.log
		SlurmdLogFile=$STATE/log/slurmd.log
		# sacct answers the executor plugin's status queries (and gives failure reasons)
		AccountingStorageType=accounting_storage/slurmdbd
		AccountingStorageHost=127.0.0.1
		AccountingStorageEnforce=associations
		# keep the plugin's --comment (rule and wildcards) in sacct
		AccountingStoreFlags=job_comment
		JobAcctGatherType=jobacct_gather/linux
		JobCompType=jobcomp/none
		# virtual GPUs (gres.conf), so jobs ask for GPUs the way a GPU site's do (--gpus) and each
		# gets its own CUDA_VISIBLE_DEVICES; torch in such a job sees none (a missing GPU)
		GresTypes=gpu
		$overrides
		$node Gres=gpu:$GPUS NodeAddr=127.0.0.1 State=UNKNOWN
		PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
	EOF
	# Slurm 22.05 drops file-less GPUs, and wants character devices: nodes with /dev/null's
	# numbers (1, 3), so opening one is harmless
	local i
	mkdir -p "$STATE/vgpu"
	for ((i = 0; i < GPUS; i++)); do
		[[ -c $STATE/vgpu/gpu$i ]] || mknod "$STATE/vgpu/gpu$i" c 1 3
	done
	write_conf "$CONF_DIR/gres.conf" 644 <<-EOF
		NodeName=$HOST Name=gpu File=$STATE/vgpu/gpu[0-$((GPUS - 1))]
	EOF
	write_conf "$CONF_DIR/slurmdbd.conf" 600 <<-EOF
		AuthType=auth/munge
		DbdHost=$HOST
		DbdAddr=127.0.0.1
		SlurmUser=root
		PidFile=$DBD_PID
		LogFile=$STATE/log/slurmdbd.log
		StorageType=accounting_storage/mysql
		StorageHost=127.0.0.1
		StoragePort=$DB_PORT
		StorageUser=slurm
		StoragePass=gpunas-ci
		StorageLoc=slurm_acct_db
	EOF
}

munge_ok() { munge -n | unmunge; }

start_munge() {
	if alive "$MUNGE_PID" && munge_ok >/dev/null 2>&1; then return; fi
	mkdir -p /run/munge /var/lib/munge /var/log/munge
	chown munge:munge /run/munge /var/lib/munge /var/log/munge
	if [[ ! -s /etc/munge/munge.key ]]; then
		mkdir -p /etc/munge
		mungekey --create --keyfile=/etc/munge/munge.key
		chown munge:munge /etc/munge/munge.key
		chmod 400 /etc/munge/munge.key
	fi
	runuser -u munge -- munged
	wait_for 20 munged munge_ok
	say "munged up (pid $(cat "$MUNGE_PID"))"
}

db() { mariadb --no-defaults --socket="$DB_SOCK" -u root "$@"; }

start_mariadb() {
	if alive "$DB_PID"; then return; fi
	mkdir -p "$DB_RUN"
	chown mysql:mysql "$DB_RUN"
	if [[ ! -d $DB_DIR/mysql ]]; then
		mariadb-install-db --no-defaults --datadir="$DB_DIR" --user=mysql --skip-test-db \
			--auth-root-authentication-method=socket >"$STATE/log/mariadb-install-db.log" 2>&1 ||
			die "mariadb-install-db failed (see $STATE/log/mariadb-install-db.log)"
	fi
	setsid mariadbd --no-defaults --user=mysql --datadir="$DB_DIR" --socket="$DB_SOCK" \
		--pid-file="$DB_PID" --log-error="$DB_RUN/mariadbd.err" --port="$DB_PORT" \
		--bind-address=127.0.0.1 --skip-name-resolve --skip-log-bin \
		--innodb-buffer-pool-size=64M </dev/null >/dev/null 2>&1 &
	wait_for 60 mariadbd mariadb-admin --no-defaults --socket="$DB_SOCK" ping
	wait_for 10 "mariadbd pid file" test -s "$DB_PID"
	db -e "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'gpunas-ci';
		GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
	say "mariadbd up (pid $(cat "$DB_PID"), port $DB_PORT)"
}

sacctmgr_has() { sacctmgr -n -P "$@" | grep -q .; }

start_slurmdbd() {
	if ! alive "$DBD_PID"; then
		slurmdbd
		wait_for 60 slurmdbd sacctmgr -n list cluster
		say "slurmdbd up (pid $(cat "$DBD_PID"))"
	fi
	sacctmgr_has list cluster "$CLUSTER" format=cluster || sacctmgr -i add cluster "$CLUSTER" >/dev/null
	sacctmgr_has list account "$ACCOUNT" format=account ||
		sacctmgr -i add account "$ACCOUNT" cluster="$CLUSTER" description=gpunas-tests organization=gpunas >/dev/null
	sacctmgr_has list assoc cluster="$CLUSTER" account="$ACCOUNT" user=root format=user ||
		sacctmgr -i add user root account="$ACCOUNT" cluster="$CLUSTER" >/dev/null
}

node_state() { sinfo -h -N -n "$HOST" -o %T; }
node_idle() { [[ $(node_state) == idle* || $(node_state) == mixed* || $(node_state) == allocated* ]]; }

start_slurm() {
	if ! alive "$CTLD_PID"; then
		slurmctld
		wait_for 60 slurmctld scontrol ping
		say "slurmctld up (pid $(cat "$CTLD_PID"))"
	fi
	if ! alive "$SLURMD_PID"; then
		slurmd
		wait_for 20 "slurmd pid file" test -s "$SLURMD_PID"
		say "slurmd up (pid $(cat "$SLURMD_PID"))"
	fi
	# A node left down or drained by an earlier run comes back on request.
	if [[ $(node_state) == down* || $(node_state) == drain* ]]; then
		scontrol update nodename="$HOST" state=resume || true
	fi
	wait_for 60 "node $HOST (state: $(node_state 2>/dev/null || echo '?'))" node_idle
}

cmd_start() {
	need_root
	local missing
	missing=$(missing_commands)
	[[ -z $missing ]] || die "missing: $missing (run: bash $0 install)"
	write_configs
	start_munge
	start_mariadb
	start_slurmdbd
	start_slurm
	say "cluster $CLUSTER up: partition $PARTITION, account $ACCOUNT, node $(node_state)"
}

# stop_daemon NAME PIDFILE: SIGTERM, wait up to 30 s, then SIGKILL.
stop_daemon() {
	local name=$1 pidfile=$2 pid i
	alive "$pidfile" || return 0
	pid=$(cat "$pidfile")
	kill "$pid"
	for ((i = 0; i < 60; i++)); do
		running "$pid" || break
		sleep 0.5
	done
	if running "$pid"; then
		say "$name (pid $pid) ignored SIGTERM for 30 s: SIGKILL"
		kill -9 "$pid" 2>/dev/null || true
	fi
	say "$name stopped (pid $pid)"
}

cmd_stop() {
	need_root
	# Jobs first: their slurmstepd processes would outlive slurmd.
	if alive "$CTLD_PID" && [[ -n $(squeue -h -o %i 2>/dev/null) ]]; then
		say "cancelling jobs: $(squeue -h -o %i | tr '\n' ' ')"
		squeue -h -o %i | xargs -r scancel --full || true
		local i
		for ((i = 0; i < 60; i++)); do
			[[ -z $(squeue -h -o %i 2>/dev/null) ]] && break
			sleep 0.5
		done
	fi
	stop_daemon slurmd "$SLURMD_PID"
	stop_daemon slurmctld "$CTLD_PID"
	stop_daemon slurmdbd "$DBD_PID"
	stop_daemon mariadbd "$DB_PID"
	stop_daemon munged "$MUNGE_PID"
	# With a slurm.conf but no slurmctld, every Slurm command (scontrol, which the Snakemake Slurm
	# plugin runs whenever it is imported, i.e. at every snakemake start) retries for ~10 s.
	# start writes both files again; the data in $STATE stays.
	local conf
	for conf in "$CONF_DIR/slurm.conf" "$CONF_DIR/gres.conf" "$CONF_DIR/slurmdbd.conf"; do
		if [[ -e $conf ]] && head -n1 "$conf" | grep -qxF "$MARK"; then rm -f "$conf"; fi
	done
}

cmd_status() {
	local rc=0 name pidfile
	for name in munged:$MUNGE_PID mariadbd:$DB_PID slurmdbd:$DBD_PID slurmctld:$CTLD_PID slurmd:$SLURMD_PID; do
		pidfile=${name#*:}
		if alive "$pidfile"; then
			echo "${name%%:*}: up (pid $(cat "$pidfile"))"
		else
			echo "${name%%:*}: down"
			rc=1
		fi
	done
	((rc == 0)) && echo "node $HOST: $(node_state)"
	return $rc
}

case ${1:-} in
install) cmd_install ;;
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
*) die "usage: $0 install|start|stop|status" ;;
esac
