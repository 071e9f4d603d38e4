"""Programs this library installs in the guest, as constant texts.

None of them is built from document values: each reads its data from a file whose lines
hold values already validated against the VPPD's patterns (no control characters, so no
line breaks), and uses them only as quoted arguments, never through ``eval``.

Boot scripts follow the image's init: its rcS runs ``/etc/init.d/S??* start`` in order
at boot (after the agent is up) and ``stop`` in reverse order at shutdown.
"""

from __future__ import annotations

INIT_DIR = "/etc/init.d"
STATE_DIR = "/etc/vmpersona"
LIBEXEC = "/usr/libexec/vmpersona"
BOOT_MARKER = "/run/vmpersona/boot-complete"

NETWORK_CONF = f"{STATE_DIR}/network.conf"
NETWORK_SCRIPT = f"{INIT_DIR}/S10network"
MOUNTS_SCRIPT = f"{INIT_DIR}/S05vmp-mounts"
CRON_SCRIPT = f"{INIT_DIR}/S50vmp-cron"
AGENTS_SCRIPT = f"{INIT_DIR}/S90vmp-agents"
READY_SCRIPT = f"{INIT_DIR}/S99vmp-ready"
AGENTS_DIR = f"{STATE_DIR}/agents"
IDS_DIR = "/var/lib/vmpersona/ids"
IDS_PROGRAM = f"{LIBEXEC}/vmp-ids"
IDS_LOG = "/var/log/vmpersona/ids.log"

NETWORK = r"""#!/bin/sh
# Network interfaces as the VM's profile defines them (written by VM Persona).
# Data: /etc/vmpersona/network.conf, one interface a line:
#   MAC NAME METHOD ADDRESS/PREFIX GATEWAY METRIC
# NAME "-" keeps the kernel's name; METHOD is static or dhcp; "-" marks an absent value.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
CONF=/etc/vmpersona/network.conf
DHCP_SCRIPT=/usr/share/udhcpc/default.script

dev_of() {
	for d in /sys/class/net/*; do
		[ "$(cat "$d/address" 2>/dev/null)" = "$1" ] && { echo "${d##*/}"; return 0; }
	done
	return 1
}

stop_dhcp() {
	pidfile=/run/udhcpc.$1.pid
	if [ -r "$pidfile" ]; then
		kill "$(cat "$pidfile")" 2>/dev/null
		rm -f "$pidfile"
	fi
}

start() {
	[ -r "$CONF" ] || return 0
	status=0
	i=0
	# first every NIC that must be renamed gets a temporary name (names may be swapped)
	while read -r mac name method addr gw metric; do
		case "$mac" in '' | '#'*) continue ;; esac
		dev=$(dev_of "$mac") || { echo "S10network: no interface has MAC $mac" >&2; status=1; continue; }
		if [ "$name" != - ] && [ "$dev" != "$name" ]; then
			stop_dhcp "$dev"
			ip link set dev "$dev" down
			ip link set dev "$dev" name "vmptmp$i" || status=1
			i=$((i + 1))
		fi
	done <"$CONF"
	while read -r mac name method addr gw metric; do
		case "$mac" in '' | '#'*) continue ;; esac
		dev=$(dev_of "$mac") || continue
		if [ "$name" != - ] && [ "$dev" != "$name" ]; then
			if ! ip link set dev "$dev" name "$name"; then
				echo "S10network: cannot rename $dev to $name" >&2
				status=1
				continue
			fi
			dev=$name
		fi
		ip link set dev "$dev" up || status=1
		stop_dhcp "$dev"
		case "$method" in
		static)
			ip -4 addr flush dev "$dev" scope global
			ip addr add "$addr" brd + dev "$dev" || status=1
			if [ "$gw" != - ]; then
				ip route replace default via "$gw" dev "$dev" metric "$metric" || status=1
			fi
			;;
		dhcp)
			ip -4 addr flush dev "$dev" scope global
			udhcpc -b -S -i "$dev" -p "/run/udhcpc.$dev.pid" -s "$DHCP_SCRIPT" >/dev/null 2>&1 || status=1
			;;
		esac
	done <"$CONF"
	return $status
}

stop() {
	[ -r "$CONF" ] || return 0
	while read -r mac name method addr gw metric; do
		case "$mac" in '' | '#'*) continue ;; esac
		dev=$(dev_of "$mac") && stop_dhcp "$dev"
	done <"$CONF"
	return 0
}

case "$1" in
start) start ;;
stop) stop ;;
restart) stop; start ;;
*) echo "usage: $0 start|stop|restart" >&2; exit 2 ;;
esac
"""

MOUNTS = r"""#!/bin/sh
# Mounts the data volumes of /etc/fstab at boot (written by VM Persona: this image's
# rcS mounts only its own file systems).
PATH=/usr/sbin:/usr/bin:/sbin:/bin
case "$1" in
start) mount -a ;;
stop) ;;
*) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
"""

READY = r"""#!/bin/sh
# Last boot script: marks that every boot script ran (written by VM Persona, which waits
# for the mark after a reboot before it checks the guest).
case "$1" in
start) mkdir -p /run/vmpersona && date +%s >/run/vmpersona/boot-complete ;;
stop) rm -f /run/vmpersona/boot-complete ;;
esac
exit 0
"""

CRON = r"""#!/bin/sh
# Starts the cron daemon for VM Persona's scheduled checks (written by VM Persona).
PATH=/usr/sbin:/usr/bin:/sbin:/bin
case "$1" in
start)
	pidof crond >/dev/null 2>&1 && exit 0
	mkdir -p /var/spool/cron/crontabs /var/log/vmpersona
	crond -c /var/spool/cron/crontabs -L /var/log/vmpersona/crond.log
	;;
stop)
	pidof crond >/dev/null 2>&1 && kill $(pidof crond) 2>/dev/null
	exit 0
	;;
restart) "$0" stop; sleep 0.2; "$0" start ;;
*) echo "usage: $0 start|stop|restart" >&2; exit 2 ;;
esac
"""

AGENTS = r"""#!/bin/sh
# Monitoring agents deployed by VM Persona: one /etc/vmpersona/agents/NAME.conf each, with
# lines exec=PROGRAM, process=NAME (what pidof finds while it runs), config=FILE.
#   S90vmp-agents start|stop            every agent
#   S90vmp-agents start-one|stop-one|restart-one|status-one NAME
PATH=/usr/sbin:/usr/bin:/sbin:/bin
DIR=/etc/vmpersona/agents
LOGDIR=/var/log/vmpersona

val() { sed -n "s/^$2=//p" "$1" | head -n 1; }

running() { # pidfile process
	if [ -r "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; then return 0; fi
	[ -n "$2" ] && pidof "$2" >/dev/null 2>&1
}

start_one() {
	conf=$DIR/$1.conf
	[ -r "$conf" ] || { echo "agent $1: no $conf" >&2; return 1; }
	exe=$(val "$conf" exec)
	proc=$(val "$conf" process)
	cfg=$(val "$conf" config)
	pidfile=/run/vmp-agent-$1.pid
	running "$pidfile" "$proc" && return 0
	[ -x "$exe" ] || { echo "agent $1: $exe is not an executable file" >&2; return 1; }
	mkdir -p "$LOGDIR"
	VMPERSONA_AGENT_CONFIG=$cfg
	export VMPERSONA_AGENT_CONFIG
	if command -v setsid >/dev/null 2>&1; then
		setsid "$exe" </dev/null >>"$LOGDIR/$1.log" 2>&1 &
	else
		"$exe" </dev/null >>"$LOGDIR/$1.log" 2>&1 &
	fi
	echo $! >"$pidfile"
	return 0
}

stop_one() {
	pidfile=/run/vmp-agent-$1.pid
	if [ -r "$pidfile" ]; then
		kill "$(cat "$pidfile")" 2>/dev/null
		rm -f "$pidfile"
	fi
	proc=$(val "$DIR/$1.conf" process 2>/dev/null)
	if [ -n "$proc" ]; then
		pids=$(pidof "$proc" 2>/dev/null)
		[ -z "$pids" ] || kill $pids 2>/dev/null
	fi
	return 0
}

all() {
	status=0
	for conf in "$DIR"/*.conf; do
		[ -r "$conf" ] || continue
		name=${conf##*/}
		"$1" "${name%.conf}" || status=1
	done
	return $status
}

case "$1" in
start) all start_one ;;
stop) all stop_one ;;
start-one) start_one "$2" ;;
stop-one) stop_one "$2" ;;
restart-one) stop_one "$2"; sleep 0.2; start_one "$2" ;;
status-one)
	running "/run/vmp-agent-$2.pid" "$(val "$DIR/$2.conf" process 2>/dev/null)"
	;;
*) echo "usage: $0 start|stop|start-one|stop-one|restart-one|status-one [NAME]" >&2; exit 2 ;;
esac
"""

IDS = r"""#!/bin/sh
# VM Persona's built-in file integrity check.
#   vmp-ids init    record the baseline of the watched paths
#   vmp-ids check   compare with the baseline: exit 0 unchanged, 1 changed (listed), 2 no baseline
# Data in /var/lib/vmpersona/ids: paths and exclude (one path a line), baseline (lines
# "SHA256 MODE UID GID PATH" for every regular file below the watched paths).
PATH=/usr/sbin:/usr/bin:/sbin:/bin
DIR=/var/lib/vmpersona/ids
umask 077

excluded() { # reads "... PATH" lines, drops those below an excluded path
	if [ -s "$DIR/exclude" ]; then
		awk 'NR == FNR { if ($0 != "") ex[$0] = 1; next }
		{ p = $0; sub(/^[^ ]+ [^ ]+ [^ ]+ [^ ]+ /, "", p)
			for (e in ex) if (p == e || index(p, e "/") == 1) next
			print }' "$DIR/exclude" -
	else
		cat
	fi
}

snapshot() { # strict|lenient: strict fails when a watched path is missing
	while IFS= read -r p; do
		[ -z "$p" ] || [ -e "$p" ] && continue
		echo "vmp-ids: watched path $p does not exist" >&2
		[ "$1" = strict ] && return 1
	done <"$DIR/paths"
	while IFS= read -r p; do
		[ -n "$p" ] && [ -e "$p" ] || continue
		find "$p" -xdev -type f -exec stat -c '%a %u %g %n' {} + >"$DIR/.stat.$$"
		find "$p" -xdev -type f -exec sha256sum {} + >"$DIR/.sum.$$"
		awk 'NR == FNR { h = $1; p = substr($0, 67); sum[p] = h; next }
		{ p = $0; sub(/^[^ ]+ [^ ]+ [^ ]+ /, "", p); print sum[p] " " $1 " " $2 " " $3 " " p }' \
			"$DIR/.sum.$$" "$DIR/.stat.$$"
	done <"$DIR/paths" | excluded | sort -k5
	rm -f "$DIR/.stat.$$" "$DIR/.sum.$$"
	return 0
}

compare() { # baseline current -> differences, one a line
	awk 'NR == FNR { p = $0; sub(/^[^ ]+ [^ ]+ [^ ]+ [^ ]+ /, "", p); base[p] = $1 " " $2 " " $3 " " $4; next }
	{ p = $0; sub(/^[^ ]+ [^ ]+ [^ ]+ [^ ]+ /, "", p); now = $1 " " $2 " " $3 " " $4; seen[p] = 1
		if (!(p in base)) print "added " p
		else if (base[p] != now) {
			split(base[p], b, " "); split(now, n, " ")
			what = ""
			if (b[1] != n[1]) what = what "content,"
			if (b[2] != n[2]) what = what "mode,"
			if (b[3] != n[3] || b[4] != n[4]) what = what "owner,"
			sub(/,$/, "", what)
			print "changed (" what ") " p
		} }
	END { for (p in base) if (!(p in seen)) print "removed " p }' "$1" "$2"
}

case "$1" in
init)
	mkdir -p "$DIR"
	[ -r "$DIR/paths" ] || { echo "vmp-ids: no $DIR/paths" >&2; exit 2; }
	snapshot strict >"$DIR/baseline.new" || { rm -f "$DIR/baseline.new"; exit 3; }
	mv -f "$DIR/baseline.new" "$DIR/baseline"
	echo "vmp-ids: baseline of $(wc -l <"$DIR/baseline") file(s) recorded"
	;;
check)
	[ -r "$DIR/baseline" ] || { echo "vmp-ids: no baseline" >&2; exit 2; }
	snapshot lenient >"$DIR/current.$$"
	compare "$DIR/baseline" "$DIR/current.$$" >"$DIR/findings.$$"
	rm -f "$DIR/current.$$"
	count=$(wc -l <"$DIR/findings.$$")
	if [ "$count" -eq 0 ]; then
		echo "$(date +%s) ok" >"$DIR/last-check"
		echo "vmp-ids: no changes in $(wc -l <"$DIR/baseline") file(s)"
		rm -f "$DIR/findings.$$"
		exit 0
	fi
	echo "$(date +%s) changed $count" >"$DIR/last-check"
	echo "vmp-ids: $count change(s) since the baseline:"
	sort "$DIR/findings.$$"
	rm -f "$DIR/findings.$$"
	exit 1
	;;
*) echo "usage: $0 init|check" >&2; exit 2 ;;
esac
"""
