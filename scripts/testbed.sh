#!/usr/bin/env bash
# The two-host libvirt testbed VM Persona's integration tests run on (one machine, as root):
#   host A  the machine's own libvirtd                 qemu:///system
#           also reachable from inside host B's namespace (what a --p2p migration from B
#           to A needs) at qemu+unix:///system?socket=<state>/host-a/run/libvirt-sock,
#           a bind mount of /run/libvirt made before host B starts
#   host B  a second libvirtd in its own mount namespace, with private /run/libvirt,
#           /var/lib/libvirt, /var/cache/libvirt, /var/log/libvirt and /etc/libvirt
#           (bind mounts of folders under $VMPERSONA_TESTBED_DIR/host-b), reached at
#           qemu+unix:///system?socket=<state>/host-b/run/libvirt-sock
# /var/lib/vmpersona stays shared, so images and pools have the same paths on both hosts.
# Each host keeps its disks in its own pool folder, so a live migration with
# --copy-storage-all|--copy-storage-inc passes --xml/--persistent-xml with the disk paths
# rewritten from pools/host-a to pools/host-b (the same path would be the same file).
# --copy-storage-all lets host B create the disk; --copy-storage-inc needs an overlay
# created there first, backed by the same base image.
# On each host: dir pool "persona" (/var/lib/vmpersona/pools/host-a|host-b) and isolated
# networks "persona-isolated" (A 10.231.0.0/24 on virbr-pa, B 10.231.1.0/24 on virbr-pb)
# and "persona-vlan-100" (A 10.100.0.0/24, B 10.100.1.0/24: the bridge VLAN 100 maps to,
# as this kernel cannot tag VLANs).
#
# Usage: testbed.sh up|down|status|env
#   up      start what is missing (idempotent; also after a crash or with stale pid files)
#   down    stop host B and the host A daemons this script started (by pid, never by name);
#           stops the testbed networks first when no domain runs; keeps definitions, pools
#           and images
#   status  print URIs, daemons, pools and networks; exit 0 when everything is up, 3 if not
#   env     print shell assignments (VMPERSONA_HOST_A_URI=... VMPERSONA_HOST_A_P2P_URI=...
#           VMPERSONA_HOST_B_URI=...)
# Environment: VMPERSONA_TESTBED_DIR (default /var/lib/vmpersona/testbed),
#              VMPERSONA_POOL_DIR (default /var/lib/vmpersona/pools),
#              VMPERSONA_IMAGE_DIR (default /var/lib/vmpersona/images, only for a hint),
#              VMPERSONA_TESTBED_TIMEOUT (seconds to wait for a daemon, default 60)
set -euo pipefail

STATE=${VMPERSONA_TESTBED_DIR:-/var/lib/vmpersona/testbed}
POOL_DIR=${VMPERSONA_POOL_DIR:-/var/lib/vmpersona/pools}
TIMEOUT=${VMPERSONA_TESTBED_TIMEOUT:-60}
HB=$STATE/host-b
HA_RUN=$STATE/host-a/run
URI_A=qemu:///system
# host A as seen from both mount namespaces: the destination URI for B -> A migrations
URI_A_SOCK="qemu+unix:///system?socket=$HA_RUN/libvirt-sock"
URI_B="qemu+unix:///system?socket=$HB/run/libvirt-sock"
STARTED_A=$STATE/host-a.started # "<daemon> <pid>" lines: host A daemons (and "mount 0") this script started
CREATED=$STATE/created          # "<host> <kind> <name>" lines: objects this script defined
IMAGE_DIR=${VMPERSONA_IMAGE_DIR:-/var/lib/vmpersona/images}
CONSOLE_DIR=/var/log/vmpersona
LIBVIRTD=/usr/sbin/libvirtd
VIRTLOGD=/usr/sbin/virtlogd
POOL_NAME=persona
# name | host A bridge, address | host B bridge, address (all /24, DHCP .100-.199).
# The two hosts share one network stack (only the mount namespace differs), and libvirt
# refuses to start a network whose subnet is already routed via another interface
# ("Network is already in use by interface virbr-pa"), so each host gets its own /24:
# a migrated guest keeps its address, and the agent still reports it.
NETWORKS=(
	"persona-isolated virbr-pa 10.231.0.1 virbr-pb 10.231.1.1"
	"persona-vlan-100 virbr-pa-v100 10.100.0.1 virbr-pb-v100 10.100.1.1"
)
# Host B takes incoming migrations on ports apart from host A's default 49152-49215.
B_MIGRATION_PORTS="49400 49463"

die() {
	echo "testbed: ERROR: $*" >&2
	exit 1
}
say() { echo "testbed: $*"; }
warn() { echo "testbed: warning: $*" >&2; }

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

need_root() {
	[ "$(id -u)" -eq 0 ] || die "run as root (libvirt's qemu:///system, mount namespaces and bridges need it)"
}

need_tools() {
	local tool
	for tool in "$LIBVIRTD" "$VIRTLOGD" virsh unshare nsenter mountpoint setsid flock dnsmasq qemu-system-x86_64; do
		command -v "$tool" >/dev/null 2>&1 ||
			die "'$tool' is missing: run scripts/install-system.sh (libvirt-daemon-system, qemu-system-x86, dnsmasq-base, ebtables)"
	done
}

# --- processes ---------------------------------------------------------------------------
# pid_alive PID EXE: the process lives and runs EXE (guards against reused pids)
pid_alive() { # pid exe
	local pid=$1 exe=$2
	case "$pid" in '' | *[!0-9]*) return 1 ;; esac
	[ -d "/proc/$pid" ] || return 1
	[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$exe" ]
}
pid_from_file() { # file exe
	local pid
	[ -r "$1" ] || return 1
	pid=$(tr -dc '0-9' <"$1")
	pid_alive "$pid" "$2" || return 1
	echo "$pid"
}
host_b_pid() {
	local pid
	pid=$(pid_from_file "$HB/run/libvirtd.pid" "$LIBVIRTD") || return 1
	# host B is the libvirtd whose mount namespace is not ours
	[ "$(readlink "/proc/$pid/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ] || return 1
	echo "$pid"
}

answers() { # uri
	timeout 20 virsh -q -c "$1" version >/dev/null 2>&1
}
wait_for() { # uri what
	local i=0
	until answers "$1"; do
		i=$((i + 1))
		[ "$i" -le $((TIMEOUT * 4)) ] || return 1
		sleep 0.25
	done
}

stop_pid() { # pid exe what
	local pid=$1 exe=$2 what=$3 i=0
	pid_alive "$pid" "$exe" || return 0
	say "stopping $what (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	while pid_alive "$pid" "$exe"; do
		i=$((i + 1))
		if [ "$i" -eq 120 ]; then
			warn "$what (pid $pid) ignored SIGTERM for 30 s: sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
		fi
		[ "$i" -le 160 ] || die "$what (pid $pid) does not stop"
		sleep 0.25
	done
}

record_started() { # daemon pid
	local tmp=$STARTED_A.tmp
	{ grep -v "^$1 " "$STARTED_A" 2>/dev/null || true; echo "$1 $2"; } >"$tmp"
	mv -f "$tmp" "$STARTED_A"
}
started_pid() { # daemon -> pid this script recorded
	[ -f "$STARTED_A" ] || return 0
	awk -v d="$1" '$1 == d {p = $2} END {if (p != "") print p}' "$STARTED_A"
}
forget_started() { # daemon
	[ -f "$STARTED_A" ] || return 0
	local tmp=$STARTED_A.tmp
	grep -v "^$1 " "$STARTED_A" >"$tmp" || true
	mv -f "$tmp" "$STARTED_A"
}
record_created() { # host kind name
	grep -qxF "$1 $2 $3" "$CREATED" 2>/dev/null || echo "$1 $2 $3" >>"$CREATED"
}
was_created() { grep -qxF "$1 $2 $3" "$CREATED" 2>/dev/null; }

# --- host A -----------------------------------------------------------------------------
start_daemon_a() { # name exe pidfile
	local name=$1 exe=$2 pidfile=$3 pid i=0
	if pid=$(pid_from_file "$pidfile" "$exe"); then
		say "host A: $name runs (pid $pid)"
		return 0
	fi
	[ ! -e "$pidfile" ] || say "host A: $pidfile is stale, starting $name anew"
	"$exe" -d 8>&- || die "host A: '$exe -d' failed (see /var/log/libvirt/$name.log)"
	until pid=$(pid_from_file "$pidfile" "$exe"); do
		i=$((i + 1))
		[ "$i" -le $((TIMEOUT * 4)) ] || die "host A: $name started but wrote no live pid to $pidfile"
		sleep 0.25
	done
	record_started "$name" "$pid"
	say "host A: started $name (pid $pid)"
}

up_host_a() {
	mkdir -p /run/libvirt /var/log/libvirt
	start_daemon_a virtlogd "$VIRTLOGD" /run/virtlogd.pid
	start_daemon_a libvirtd "$LIBVIRTD" /run/libvirtd.pid
	wait_for "$URI_A" || die "host A: libvirtd runs but '$URI_A' does not answer after ${TIMEOUT}s (see /var/log/libvirt/libvirtd.log)"
	# host A's socket folder at a path host B's namespace does not cover
	mkdir -p "$HA_RUN"
	if ! mountpoint -q "$HA_RUN"; then
		mount --bind /run/libvirt "$HA_RUN" || die "host A: cannot bind /run/libvirt to $HA_RUN"
		record_started mount 0
		say "host A: /run/libvirt also at $HA_RUN"
	fi
	answers "$URI_A_SOCK" || die "host A: '$URI_A_SOCK' does not answer"
}

# --- host B -----------------------------------------------------------------------------
set_conf() { # file key value(raw): drop active settings of key, append ours
	local file=$1 key=$2 value=$3
	sed -i -E "/^[[:space:]]*${key}[[:space:]]*=/d" "$file"
	echo "$key = $value" >>"$file"
}

host_a_uuid() {
	virsh -q -c "$URI_A" capabilities 2>/dev/null | sed -n 's:.*<uuid>\(.*\)</uuid>.*:\1:p' | awk 'NR == 1'
}

prepare_host_b() {
	local d uuid a_uuid
	mkdir -p "$HB"/{run,lib,cache,log/qemu,etc}
	chmod 0755 "$HB" "$HB"/{run,lib,log,log/qemu,etc}
	chmod 0711 "$HB/cache"
	# /var/lib/libvirt layout as the Debian package makes it (ownership matters for qemu)
	for d in images boot qemu qemu/channel qemu/snapshot qemu/dump qemu/checkpoint qemu/nvram \
		qemu/save qemu/ram dnsmasq; do
		mkdir -p "$HB/lib/$d"
		if [ -d "/var/lib/libvirt/$d" ]; then
			chown --reference="/var/lib/libvirt/$d" "$HB/lib/$d"
			chmod --reference="/var/lib/libvirt/$d" "$HB/lib/$d"
		fi
	done
	mkdir -p "$HB/cache/qemu"
	# configuration: the machine's files without its domains, networks, pools or secrets
	if [ ! -f "$HB/etc/.initialized" ]; then
		find /etc/libvirt -maxdepth 1 -type f -exec cp -p {} "$HB/etc/" \;
		for d in hooks nwfilter; do
			[ ! -d "/etc/libvirt/$d" ] || cp -a "/etc/libvirt/$d" "$HB/etc/"
		done
		mkdir -p "$HB/etc/qemu/networks/autostart" "$HB/etc/storage/autostart" "$HB/etc/secrets"
		chmod 0700 "$HB/etc/secrets"
		touch "$HB/etc/.initialized"
	fi
	[ -f "$HB/etc/libvirtd.conf" ] || die "host B: no libvirtd.conf (is /etc/libvirt/libvirtd.conf installed?)"
	[ -f "$HB/etc/qemu.conf" ] || die "host B: no qemu.conf (is /etc/libvirt/qemu.conf installed?)"
	if [ ! -s "$HB/host_uuid" ]; then
		cat /proc/sys/kernel/random/uuid >"$HB/host_uuid"
	fi
	uuid=$(cat "$HB/host_uuid")
	a_uuid=$(host_a_uuid || true)
	if [ -n "$a_uuid" ] && [ "$a_uuid" = "$uuid" ]; then
		cat /proc/sys/kernel/random/uuid >"$HB/host_uuid"
		uuid=$(cat "$HB/host_uuid")
	fi
	# libvirt refuses to migrate to a host with its own UUID
	set_conf "$HB/etc/libvirtd.conf" host_uuid "\"$uuid\""
	set_conf "$HB/etc/libvirtd.conf" log_outputs '"3:file:/var/log/libvirt/libvirtd.log"'
	# no virtlogd on host B: QEMU writes its log file itself
	set_conf "$HB/etc/qemu.conf" stdio_handler '"file"'
	set_conf "$HB/etc/qemu.conf" migration_port_min "${B_MIGRATION_PORTS% *}"
	set_conf "$HB/etc/qemu.conf" migration_port_max "${B_MIGRATION_PORTS#* }"
}

up_host_b() {
	local pid i=0
	if pid=$(host_b_pid); then
		say "host B: libvirtd runs (pid $pid)"
		if ! nsenter -t "$pid" -m -- test -S "$HA_RUN/libvirt-sock"; then
			warn "host B (started before $HA_RUN was mounted) cannot reach host A for B -> A --p2p migrations: run '$0 down' and '$0 up'"
		fi
	else
		[ ! -e "$HB/run/libvirtd.pid" ] || say "host B: $HB/run/libvirtd.pid is stale, starting host B anew"
		prepare_host_b
		rm -f "$HB/run/libvirtd.pid"
		mkdir -p /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt /etc/libvirt
		# A private mount namespace with host B's folders over libvirt's; libvirtd -d
		# daemonizes inside it and keeps the namespace alive after this script exits.
		# shellcheck disable=SC2016 # expanded by the inner shell
		setsid unshare --mount --propagation private -- /bin/sh -euc '
			hb=$1
			mount --bind "$hb/run" /run/libvirt
			mount --bind "$hb/lib" /var/lib/libvirt
			mount --bind "$hb/cache" /var/cache/libvirt
			mount --bind "$hb/log" /var/log/libvirt
			mount --bind "$hb/etc" /etc/libvirt
			exec "$2" -d -p "$hb/run/libvirtd.pid"
		' host-b "$HB" "$LIBVIRTD" </dev/null >>"$HB/log/startup.log" 2>&1 8>&- ||
			die "host B: libvirtd failed to start (see $HB/log/startup.log and $HB/log/libvirtd.log)"
		until pid=$(host_b_pid); do
			i=$((i + 1))
			[ "$i" -le $((TIMEOUT * 4)) ] || die "host B: no live pid in $HB/run/libvirtd.pid (see $HB/log/libvirtd.log)"
			sleep 0.25
		done
		say "host B: started libvirtd (pid $pid)"
	fi
	wait_for "$URI_B" || die "host B: '$URI_B' does not answer after ${TIMEOUT}s (see $HB/log/libvirtd.log)"
}

# --- pools and networks --------------------------------------------------------------------
virsh_q() { # uri args...
	local uri=$1
	shift
	virsh -q -c "$uri" "$@"
}

ensure_pool() { # host uri dir
	local host=$1 uri=$2 dir=$3 xml target
	mkdir -p "$dir"
	chmod 0755 "$POOL_DIR" "$dir"
	if ! virsh_q "$uri" pool-info "$POOL_NAME" >/dev/null 2>&1; then
		xml=$(mktemp)
		cat >"$xml" <<EOF
<pool type='dir'>
  <name>$POOL_NAME</name>
  <target>
    <path>$dir</path>
    <permissions><mode>0755</mode></permissions>
  </target>
</pool>
EOF
		virsh_q "$uri" pool-define "$xml" >/dev/null || {
			rm -f "$xml"
			die "host $host: cannot define pool $POOL_NAME"
		}
		rm -f "$xml"
		record_created "$host" pool "$POOL_NAME"
		say "host $host: defined pool $POOL_NAME at $dir"
	fi
	target=$(virsh_q "$uri" pool-dumpxml "$POOL_NAME" | sed -n 's:.*<path>\(.*\)</path>.*:\1:p' | awk 'NR == 1')
	[ "$target" = "$dir" ] || die "host $host: pool $POOL_NAME exists with target $target, expected $dir (undefine it or set VMPERSONA_POOL_DIR)"
	if [ "$(pool_field "$uri" State)" != running ]; then
		virsh_q "$uri" pool-start "$POOL_NAME" >/dev/null || die "host $host: cannot start pool $POOL_NAME"
		say "host $host: started pool $POOL_NAME"
	fi
	[ "$(pool_field "$uri" Autostart)" = yes ] || virsh_q "$uri" pool-autostart "$POOL_NAME" >/dev/null ||
		die "host $host: cannot mark pool $POOL_NAME autostart"
}
pool_field() { # uri field
	virsh_q "$1" pool-info "$POOL_NAME" 2>/dev/null | awk -F': *' -v f="$2" '$1 == f {print $2}'
}
net_field() { # uri net field
	virsh_q "$1" net-info "$2" 2>/dev/null | awk -F': *' -v f="$3" '$1 == f {print $2}'
}

ensure_network() { # host uri name bridge address prefix dhcp-start dhcp-end
	local host=$1 uri=$2 name=$3 bridge=$4 addr=$5 prefix=$6 start=$7 end=$8 xml have
	if ! virsh_q "$uri" net-info "$name" >/dev/null 2>&1; then
		if ip link show "$bridge" >/dev/null 2>&1; then
			die "host $host: bridge $bridge already exists outside network $name (the other host's, or a leftover: 'ip link del $bridge')"
		fi
		xml=$(mktemp)
		cat >"$xml" <<EOF
<network>
  <name>$name</name>
  <bridge name='$bridge' stp='on' delay='0'/>
  <ip address='$addr' prefix='$prefix'>
    <dhcp>
      <range start='$start' end='$end'/>
    </dhcp>
  </ip>
</network>
EOF
		virsh_q "$uri" net-define "$xml" >/dev/null || {
			rm -f "$xml"
			die "host $host: cannot define network $name"
		}
		rm -f "$xml"
		record_created "$host" network "$name"
		say "host $host: defined network $name (bridge $bridge, $addr/$prefix, isolated)"
	fi
	have=$(net_field "$uri" "$name" Bridge)
	[ "$have" = "$bridge" ] || die "host $host: network $name uses bridge '$have', expected $bridge"
	if [ "$(net_field "$uri" "$name" Active)" != yes ]; then
		virsh_q "$uri" net-start "$name" >/dev/null ||
			die "host $host: cannot start network $name (bridge $bridge; see the libvirtd log)"
		say "host $host: started network $name"
	fi
	[ "$(net_field "$uri" "$name" Autostart)" = yes ] || virsh_q "$uri" net-autostart "$name" >/dev/null ||
		die "host $host: cannot mark network $name autostart"
}

ensure_objects() { # host uri
	local host=$1 uri=$2 spec name ba aa bb ab bridge addr net
	mkdir -p "$POOL_DIR"
	ensure_pool "$host" "$uri" "$POOL_DIR/host-$(echo "$host" | tr AB ab)"
	for spec in "${NETWORKS[@]}"; do
		read -r name ba aa bb ab <<<"$spec"
		if [ "$host" = A ]; then bridge=$ba addr=$aa; else bridge=$bb addr=$ab; fi
		net=${addr%.*}
		ensure_network "$host" "$uri" "$name" "$bridge" "$addr" 24 "$net.100" "$net.199"
	done
}

running_domains() { # uri
	virsh_q "$1" list --name 2>/dev/null | sed '/^$/d'
}

stop_networks() { # host uri
	local host=$1 uri=$2 spec name rest
	if [ -n "$(running_domains "$uri")" ]; then
		warn "host $host: domains still run ($(running_domains "$uri" | paste -sd ' ' -)): leaving its networks up"
		return 0
	fi
	for spec in "${NETWORKS[@]}"; do
		read -r name rest <<<"$spec"
		was_created "$host" network "$name" || continue
		if [ "$(net_field "$uri" "$name" Active)" = yes ]; then
			if virsh_q "$uri" net-destroy "$name" >/dev/null; then
				say "host $host: stopped network $name"
			else
				warn "host $host: could not stop network $name"
			fi
		fi
	done
}

write_env() {
	cat >"$STATE/testbed.env" <<EOF
VMPERSONA_HOST_A_URI='$URI_A'
VMPERSONA_HOST_A_P2P_URI='$URI_A_SOCK'
VMPERSONA_HOST_B_URI='$URI_B'
VMPERSONA_TESTBED_DIR='$STATE'
VMPERSONA_POOL_NAME='$POOL_NAME'
VMPERSONA_HOST_A_POOL_DIR='$POOL_DIR/host-a'
VMPERSONA_HOST_B_POOL_DIR='$POOL_DIR/host-b'
VMPERSONA_NETWORK='persona-isolated'
VMPERSONA_CONSOLE_DIR='$CONSOLE_DIR'
VMPERSONA_IMAGE_DIR='$IMAGE_DIR'
VMPERSONA_VLAN_NETWORKS='100=persona-vlan-100'
EOF
}

# --- commands -------------------------------------------------------------------------------
cmd_up() {
	need_root
	need_tools
	mkdir -p "$STATE"
	chmod 0755 "$STATE"
	[ -d /var/lib/vmpersona ] && chmod 0755 /var/lib/vmpersona
	# serial console logs of test guests (same path on both hosts)
	mkdir -p "$CONSOLE_DIR"
	chmod 0755 "$CONSOLE_DIR"
	up_host_a
	up_host_b
	ensure_objects A "$URI_A"
	ensure_objects B "$URI_B"
	write_env
	if [ ! -f "$IMAGE_DIR/tiny-linux/image.json" ]; then
		say "note: no guest image in $IMAGE_DIR/tiny-linux yet: run scripts/build-guest-image.sh"
	fi
	say "up"
	echo "host A: $URI_A"
	echo "host A (from host B, e.g. as a --p2p migration destination): $URI_A_SOCK"
	echo "host B: $URI_B"
}

cmd_down() {
	need_root
	local pid daemon exe a_domains=
	if pid=$(host_b_pid); then
		if answers "$URI_B"; then
			stop_networks B "$URI_B"
		fi
		stop_pid "$pid" "$LIBVIRTD" "host B libvirtd"
	else
		say "host B: not running"
	fi
	rm -f "$HB/run/libvirtd.pid"

	if answers "$URI_A"; then
		a_domains=$(running_domains "$URI_A" | paste -sd ' ' -)
	fi
	for daemon in libvirtd virtlogd; do
		exe=$LIBVIRTD
		[ "$daemon" = virtlogd ] && exe=$VIRTLOGD
		pid=$(started_pid "$daemon")
		if [ -z "$pid" ]; then
			if pid=$(pid_from_file "/run/$daemon.pid" "$exe"); then
				say "host A: $daemon (pid $pid) was not started by testbed.sh: leaving it running"
			fi
			continue
		fi
		if ! pid_alive "$pid" "$exe"; then
			forget_started "$daemon"
			continue
		fi
		if [ "$daemon" = libvirtd ] && [ -z "$a_domains" ]; then
			stop_networks A "$URI_A"
		fi
		if [ "$daemon" = virtlogd ] && [ -n "$a_domains" ]; then
			# running guests write their console/stderr through virtlogd
			warn "host A: domains still run ($a_domains): leaving virtlogd (pid $pid) running"
			continue
		fi
		stop_pid "$pid" "$exe" "host A $daemon"
		forget_started "$daemon"
	done
	if [ -n "$(started_pid mount)" ]; then
		if mountpoint -q "$HA_RUN"; then
			umount "$HA_RUN" || warn "cannot unmount $HA_RUN"
		fi
		forget_started mount
	fi
	say "down (images, pools and definitions kept)"
}

print_daemon() { # label pid-or-empty note
	if [ -n "$2" ]; then
		printf '  %-16s running, pid %s%s\n' "$1" "$2" "$3"
	else
		printf '  %-16s not running\n' "$1"
	fi
}

status_host() { # host uri
	local host=$1 uri=$2 spec name rest
	if ! answers "$uri"; then
		echo "  (not answering)"
		return 1
	fi
	local ok=0 state path auto
	state=$(pool_field "$uri" State)
	auto=$(pool_field "$uri" Autostart)
	path=$(virsh_q "$uri" pool-dumpxml "$POOL_NAME" 2>/dev/null | sed -n 's:.*<path>\(.*\)</path>.*:\1:p' | awk 'NR == 1')
	printf '  pool %-20s %s, autostart %s, %s\n' "$POOL_NAME" "${state:-missing}" "${auto:--}" "${path:--}"
	[ "$state" = running ] || ok=1
	for spec in "${NETWORKS[@]}"; do
		read -r name rest <<<"$spec"
		local active bridge subnet
		active=$(net_field "$uri" "$name" Active)
		bridge=$(net_field "$uri" "$name" Bridge)
		subnet=$(virsh_q "$uri" net-dumpxml "$name" 2>/dev/null | sed -n "s:.*<ip address='\([^']*\)' prefix='\([^']*\)'.*:\1/\2:p" | awk 'NR == 1')
		case "$active" in yes) active=active ;; no) active=inactive ;; *) active=missing ;; esac
		printf '  network %-17s %s, bridge %s, %s\n' "$name" "$active" "${bridge:--}" "${subnet:--}"
		[ "$active" = active ] || ok=1
	done
	local doms
	doms=$(running_domains "$uri" | paste -sd ' ' -)
	echo "  running domains: ${doms:-none}"
	return $ok
}

cmd_status() {
	local rc=0 pid note
	echo "host A: $URI_A"
	if mountpoint -q "$HA_RUN" 2>/dev/null; then
		echo "  from host B:     $URI_A_SOCK"
	else
		echo "  from host B:     $HA_RUN not mounted (B -> A --p2p migrations fail)"
		rc=3
	fi
	for daemon in virtlogd libvirtd; do
		local exe=$LIBVIRTD
		[ "$daemon" = virtlogd ] && exe=$VIRTLOGD
		pid=$(pid_from_file "/run/$daemon.pid" "$exe" || true)
		note=
		if [ -n "$pid" ]; then
			if [ "$(started_pid "$daemon")" = "$pid" ]; then note=" (started by testbed.sh)"; else note=" (not started by testbed.sh)"; fi
		else
			rc=3
		fi
		print_daemon "$daemon" "$pid" "$note"
	done
	status_host A "$URI_A" || rc=3
	echo "host B: $URI_B"
	pid=$(host_b_pid || true)
	[ -n "$pid" ] || rc=3
	print_daemon libvirtd "$pid" "${pid:+ (own mount namespace, state $HB)}"
	if [ -n "$pid" ]; then
		status_host B "$URI_B" || rc=3
	fi
	[ "$rc" -eq 0 ] && echo "testbed: up" || echo "testbed: not (fully) up: run '$0 up'"
	return $rc
}

cmd_env() {
	echo "VMPERSONA_HOST_A_URI='$URI_A'"
	echo "VMPERSONA_HOST_A_P2P_URI='$URI_A_SOCK'"
	echo "VMPERSONA_HOST_B_URI='$URI_B'"
}

main() {
	[ $# -ge 1 ] || {
		usage >&2
		exit 2
	}
	local cmd=$1
	shift
	case "$cmd" in
	up | down)
		need_root
		mkdir -p "$STATE"
		exec 8>"$STATE/.lock"
		flock -w 300 8 || die "another testbed.sh holds $STATE/.lock"
		"cmd_$cmd" "$@"
		;;
	status) cmd_status "$@" ;;
	env) cmd_env ;;
	-h | --help | help) usage ;;
	*)
		usage >&2
		exit 2
		;;
	esac
}

main "$@"
