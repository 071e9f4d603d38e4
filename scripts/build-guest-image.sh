#!/usr/bin/env bash
# Builds "tiny-linux", the small test guest VM Persona boots on real libvirt/QEMU,
# from Debian packages already on this machine (no download):
#   busybox-static, linux-image-cloud-amd64 (kernel + virtio modules),
#   qemu-guest-agent (/usr/sbin/qemu-ga + the libraries ldd lists), e2fsprogs.
#
# Output in ${VMPERSONA_IMAGE_DIR:-/var/lib/vmpersona/images}/tiny-linux/:
#   vmlinuz      the cloud kernel (boot it directly: <os><kernel>)
#   initrd.img   initramfs: loads the virtio drivers, mounts /dev/vda (ext4), switch_root
#   root.qcow2   the root file system. A READ-ONLY BASE: guests get a qcow2 overlay
#                backed by it and never use the file itself.
#   image.json   metadata (kernel version, cmdline, sha256, sizes, minimums, modules)
#
# Idempotent: rebuilds only when an input changed (or with --force). The build runs in
# a temporary folder next to the output and replaces it with two renames at the end.
#
# Usage: build-guest-image.sh [--force] [--check] [--quiet]
#   --force   rebuild even when the image is up to date
#   --check   build nothing: exit 0 when the image is up to date, 1 when a build is needed
#   --quiet   print only errors and the final line
# Environment:
#   VMPERSONA_IMAGE_DIR         output parent folder (default /var/lib/vmpersona/images)
#   VMPERSONA_GUEST_KERNEL      kernel version to use (default: newest *-cloud-amd64 in /boot)
#   VMPERSONA_GUEST_ROOT_MIB    size of the root file system in MiB (default 64)
set -euo pipefail

IMAGE_ID=tiny-linux
IMAGE_NAME="VM Persona tiny Linux"
IMAGE_DIR=${VMPERSONA_IMAGE_DIR:-/var/lib/vmpersona/images}
OUT=$IMAGE_DIR/$IMAGE_ID
ROOT_MIB=${VMPERSONA_GUEST_ROOT_MIB:-64}
CMDLINE="console=ttyS0 root=/dev/vda rw quiet"
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GUEST_DIR=$SCRIPT_DIR/guest
# Fixed timestamp for every file in the image (2024-01-01 00:00:00 UTC).
EPOCH=1704067200
# Loaded by the initramfs, in this order (dependencies resolved with modinfo and
# inserted before each module; built-in ones skipped).
# virtio_rng early: the kernel's random pool is ready sooner when the domain has an RNG.
INITRD_MODULES=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
	virtio_console virtio_blk failover net_failover virtio_net virtio_rng ext4)
# Loaded by the root file system's rcS when present in the kernel.
EXTRA_MODULES=(virtio_balloon button evdev)
# Extra programs (with their libraries) besides busybox and qemu-ga.
E2FS_TOOLS=(mke2fs e2fsck resize2fs tune2fs blkid)

FORCE=0
CHECK=0
QUIET=0

die() {
	echo "build-guest-image: ERROR: $*" >&2
	exit 1
}
say() {
	[ "$QUIET" -eq 1 ] || echo "build-guest-image: $*"
}

for arg in "$@"; do
	case "$arg" in
	--force) FORCE=1 ;;
	--check) CHECK=1 ;;
	--quiet | -q) QUIET=1 ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown argument '$arg' (try --help)" ;;
	esac
done

START=$(date +%s.%N)

# --- requirements -------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "run as root: the image's files must be owned by root (mkfs.ext4 -d keeps owners)"
for tool in busybox qemu-img mkfs.ext4 debugfs cpio gzip modinfo python3 sha256sum flock ldd; do
	command -v "$tool" >/dev/null 2>&1 ||
		die "'$tool' is missing (run scripts/install-system.sh: busybox-static, qemu-utils, e2fsprogs, cpio, kmod)"
done
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || die "$BUSYBOX is missing (apt-get install busybox-static)"
if ldd "$BUSYBOX" >/dev/null 2>&1; then
	die "$BUSYBOX is dynamically linked: install busybox-static"
fi
QEMU_GA=/usr/sbin/qemu-ga
[ -x "$QEMU_GA" ] || die "$QEMU_GA is missing (apt-get install qemu-guest-agent)"
if [ ! -d "$GUEST_DIR/rootfs" ] || [ ! -f "$GUEST_DIR/initramfs/init" ]; then
	die "helper files missing under $GUEST_DIR"
fi
case "$ROOT_MIB" in '' | *[!0-9]*) die "VMPERSONA_GUEST_ROOT_MIB must be a number of MiB" ;; esac
[ "$ROOT_MIB" -ge 32 ] || die "VMPERSONA_GUEST_ROOT_MIB must be at least 32"

if [ -n "${VMPERSONA_GUEST_KERNEL:-}" ]; then
	KVER=$VMPERSONA_GUEST_KERNEL
else
	KVER=$(find /boot -maxdepth 1 -name 'vmlinuz-*-cloud-amd64' -printf '%f\n' 2>/dev/null |
		sed 's/^vmlinuz-//' | sort -V | tail -n 1)
	[ -n "$KVER" ] || die "no /boot/vmlinuz-*-cloud-amd64 (apt-get install linux-image-cloud-amd64)"
fi
KERNEL=/boot/vmlinuz-$KVER
[ -r "$KERNEL" ] || die "$KERNEL is missing or unreadable"
[ -d "/lib/modules/$KVER" ] || die "/lib/modules/$KVER is missing"

# --- kernel modules: dependency order via modinfo ------------------------------------
declare -A SEEN=()
MOD_FILES=() # absolute paths, dependencies first
MOD_NAMES=()
BUILTIN=()

resolve_module() {
	local mod=$1 file deps softdeps dep
	mod=${mod//-/_}
	[ -z "${SEEN[$mod]:-}" ] || return 0
	SEEN[$mod]=1
	file=$(modinfo -k "$KVER" -F filename "$mod" 2>/dev/null) || return 1
	if [ "$file" = "(builtin)" ]; then
		BUILTIN+=("$mod")
		return 0
	fi
	# "pre:" soft dependencies first (e.g. ext4 -> crc32c), when they exist
	softdeps=$(modinfo -k "$KVER" -F softdep "$mod" 2>/dev/null |
		awk '{for (i = 1; i <= NF; i++) { if ($i == "pre:") p = 1; else if ($i ~ /:$/) p = 0; else if (p) print $i }}')
	for dep in $softdeps; do
		resolve_module "$dep" || true
	done
	deps=$(modinfo -k "$KVER" -F depends "$mod" 2>/dev/null | tr ',' ' ')
	for dep in $deps; do
		resolve_module "$dep" || die "module $dep (needed by $mod) not found for kernel $KVER"
	done
	MOD_FILES+=("$file")
	MOD_NAMES+=("$mod")
}

for mod in "${INITRD_MODULES[@]}"; do
	resolve_module "$mod" || die "module $mod not found for kernel $KVER"
done
INITRD_COUNT=${#MOD_FILES[@]}
for mod in "${EXTRA_MODULES[@]}"; do
	resolve_module "$mod" || say "note: module $mod not available in $KVER, skipped"
done

# --- programs and their libraries -----------------------------------------------------
PROGRAMS=("$QEMU_GA")
for tool in "${E2FS_TOOLS[@]}"; do
	path=$(command -v "$tool" 2>/dev/null || true)
	if [ -z "$path" ] || [ ! -x "$path" ]; then
		die "$tool is missing (apt-get install e2fsprogs util-linux)"
	fi
	PROGRAMS+=("$(readlink -f "$path")")
done
declare -A LIBSET=()
for prog in "${PROGRAMS[@]}"; do
	while read -r lib; do
		[ -n "$lib" ] && LIBSET[$lib]=1
	done < <(ldd "$prog" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')
done
LOADER=/lib64/ld-linux-x86-64.so.2
[ -e "$LOADER" ] || die "$LOADER is missing"
LIBSET[$LOADER]=1
# glibc loads libgcc_s at run time for thread cancellation
[ -e /lib/x86_64-linux-gnu/libgcc_s.so.1 ] && LIBSET[/lib/x86_64-linux-gnu/libgcc_s.so.1]=1
mapfile -t LIBS < <(printf '%s\n' "${!LIBSET[@]}" | sort)
MKE2FS_CONF=/etc/mke2fs.conf

# --- input fingerprint -------------------------------------------------------------------
fingerprint() {
	{
		echo "format=3 id=$IMAGE_ID kver=$KVER root_mib=$ROOT_MIB cmdline=$CMDLINE epoch=$EPOCH"
		echo "initrd_modules=${INITRD_MODULES[*]} extra_modules=${EXTRA_MODULES[*]} tools=${E2FS_TOOLS[*]}"
		(cd "$SCRIPT_DIR" && find guest -type f ! -name '*.example.xml' -print0 | sort -z |
			xargs -0 sha256sum && sha256sum build-guest-image.sh)
		(cd "$SCRIPT_DIR" && find guest -type f ! -name '*.example.xml' -perm -u+x -printf 'x %p\n' | sort)
		sha256sum "$KERNEL" "$BUSYBOX" "${PROGRAMS[@]}" "${MOD_FILES[@]}"
		for lib in "${LIBS[@]}"; do sha256sum "$(readlink -f "$lib")" | sed "s|  .*|  $lib|"; done
		[ ! -r "$MKE2FS_CONF" ] || sha256sum "$MKE2FS_CONF"
	} | sha256sum | cut -d' ' -f1
}
FP=$(fingerprint)

up_to_date() {
	[ -f "$OUT/image.json" ] && [ -f "$OUT/root.qcow2" ] && [ -f "$OUT/vmlinuz" ] && [ -f "$OUT/initrd.img" ] || return 1
	python3 - "$OUT" "$FP" <<'PY'
import hashlib, json, os, sys
out, fp = sys.argv[1], sys.argv[2]
try:
    meta = json.load(open(os.path.join(out, "image.json")))
except (OSError, ValueError):
    sys.exit(1)
if meta.get("build", {}).get("inputs_sha256") != fp:
    sys.exit(1)
for name, info in meta.get("files", {}).items():
    path = os.path.join(out, name)
    try:
        if os.path.getsize(path) != info["size"]:
            sys.exit(1)
    except OSError:
        sys.exit(1)
h = hashlib.sha256()
with open(os.path.join(out, "root.qcow2"), "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
        h.update(chunk)
sys.exit(0 if "sha256:" + h.hexdigest() == meta.get("checksum") else 1)
PY
}

if [ "$CHECK" -eq 1 ]; then
	if up_to_date; then
		echo "build-guest-image: $OUT is up to date"
		exit 0
	fi
	echo "build-guest-image: $OUT needs a build"
	exit 1
fi

if [ "$FORCE" -eq 0 ] && up_to_date; then
	echo "build-guest-image: $OUT is up to date (kernel $KVER; --force rebuilds)"
	exit 0
fi

mkdir -p "$IMAGE_DIR"
chmod 0755 "$IMAGE_DIR"
# the parents must be traversable by the qemu user (libvirt-qemu)
dir=$IMAGE_DIR
while [ "$dir" != / ] && [ -n "$dir" ]; do
	perms=$(stat -c '%A' "$dir")
	[ "${perms:9:1}" = x ] || [ "${perms:9:1}" = t ] || say "warning: $dir is not searchable by others; qemu may not read the image"
	dir=$(dirname "$dir")
done

exec 9>"$IMAGE_DIR/.$IMAGE_ID.lock"
flock -w 900 9 || die "another build holds $IMAGE_DIR/.$IMAGE_ID.lock"
if [ "$FORCE" -eq 0 ] && up_to_date; then
	echo "build-guest-image: $OUT is up to date (built meanwhile by another process)"
	exit 0
fi

WORK=$(mktemp -d "$IMAGE_DIR/.$IMAGE_ID.build.XXXXXX")
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT
STAGE=$WORK/$IMAGE_ID
INITRD=$WORK/initramfs
ROOT=$WORK/rootfs
mkdir -p "$STAGE" "$INITRD" "$ROOT"
say "building $IMAGE_ID with kernel $KVER in $WORK"

# copy a module, decompressing .ko.xz/.ko.zst/.ko.gz (busybox insmod wants plain .ko)
copy_module() { # source-path dest-root -> prints the path relative to dest-root
	local src=$1 dest=$2 rel
	rel=${src#/lib/modules/"$KVER"/}
	rel=${rel#/usr/lib/modules/"$KVER"/}
	case "$rel" in
	*.ko.xz) rel=${rel%.xz} ;;
	*.ko.zst) rel=${rel%.zst} ;;
	*.ko.gz) rel=${rel%.gz} ;;
	esac
	mkdir -p "$dest/$(dirname "$rel")"
	case "$src" in
	*.ko.xz) xz -dc "$src" >"$dest/$rel" ;;
	*.ko.zst) zstd -qdc "$src" >"$dest/$rel" ;;
	*.ko.gz) gzip -dc "$src" >"$dest/$rel" ;;
	*) cp "$src" "$dest/$rel" ;;
	esac
	chmod 0644 "$dest/$rel"
	echo "$rel"
}

# --- initramfs ----------------------------------------------------------------------------
mkdir -p "$INITRD"/{bin,dev,proc,sys,newroot,etc,lib/modules}
install -m 0755 "$BUSYBOX" "$INITRD/bin/busybox"
ln -s busybox "$INITRD/bin/sh"
install -m 0755 "$GUEST_DIR/initramfs/init" "$INITRD/init"
mknod -m 0600 "$INITRD/dev/console" c 5 1
: >"$INITRD/etc/modules.order"
for ((i = 0; i < INITRD_COUNT; i++)); do
	copy_module "${MOD_FILES[$i]}" "$INITRD/lib/modules" >>"$INITRD/etc/modules.order"
done
find "$INITRD" -exec touch -h -d "@$EPOCH" {} +
(cd "$INITRD" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
	cpio --null --create --format=newc --reproducible --owner=0:0 --quiet) |
	gzip -9 -n >"$STAGE/initrd.img"

# --- root file system -------------------------------------------------------------------------
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,usr/lib,usr/libexec,usr/share,lib/x86_64-linux-gnu,lib64} \
	"$ROOT"/{dev,proc,sys,run,tmp,mnt,media,opt,srv,home,root,etc/vmpersona,etc/skel} \
	"$ROOT"/var/{log,tmp,lib,cache,spool,empty}
ln -s ../run "$ROOT/var/run"
ln -s ../run/lock "$ROOT/var/lock"
# our files first, so that no busybox link is ever written through
cp -a "$GUEST_DIR/rootfs/." "$ROOT/"
# modes from the executable bit only (a checkout's umask must not leak into the image)
find "$ROOT" -type d -exec chmod 0755 {} +
find "$ROOT" -type f -perm -u+x -exec chmod 0755 {} +
find "$ROOT" -type f ! -perm -u+x -exec chmod 0644 {} +
install -m 0755 "$BUSYBOX" "$ROOT/bin/busybox"
while read -r applet; do
	[ -e "$ROOT/$applet" ] || [ -L "$ROOT/$applet" ] || ln -s /bin/busybox "$ROOT/$applet"
done < <("$BUSYBOX" --list-full)
for name in adduser addgroup deluser delgroup chpasswd useradd groupadd groupdel usermod userdel; do
	ln -sfn vmp-accounts "$ROOT/usr/sbin/$name"
done
install -m 0755 "$QEMU_GA" "$ROOT/usr/sbin/qemu-ga"
for tool in "${E2FS_TOOLS[@]}"; do
	rm -f "$ROOT/sbin/$tool"
	install -m 0755 "$(readlink -f "$(command -v "$tool")")" "$ROOT/sbin/$tool"
done
for fs in ext2 ext3 ext4; do
	ln -sfn mke2fs "$ROOT/sbin/mkfs.$fs"
	ln -sfn e2fsck "$ROOT/sbin/fsck.$fs"
done
for lib in "${LIBS[@]}"; do
	install -m 0755 "$(readlink -f "$lib")" "$ROOT/lib/x86_64-linux-gnu/$(basename "$lib")"
done
ln -sfn ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$ROOT/lib64/ld-linux-x86-64.so.2"
[ ! -r "$MKE2FS_CONF" ] || install -m 0644 "$MKE2FS_CONF" "$ROOT/etc/mke2fs.conf"
MODDIR=$ROOT/lib/modules/$KVER
mkdir -p "$MODDIR"
: >"$MODDIR/modules.order"
for file in "${MOD_FILES[@]}"; do
	copy_module "$file" "$MODDIR" >>"$MODDIR/modules.order"
done
printf '%s\n' "${BUILTIN[@]}" >"$MODDIR/builtin.list"
chmod 0700 "$ROOT/root"
chmod 1777 "$ROOT/tmp" "$ROOT/var/tmp"
chmod 0600 "$ROOT/etc/shadow"
chmod 0644 "$ROOT/etc/passwd" "$ROOT/etc/group"
echo "$IMAGE_ID 1.0 kernel $KVER built from Debian packages" >"$ROOT/etc/vmpersona/image"
# sanity: everything qemu-ga needs resolves inside the tree
for lib in $(ldd "$QEMU_GA" | awk '$2 == "=>" {print $1}'); do
	[ -e "$ROOT/lib/x86_64-linux-gnu/$lib" ] || die "library $lib of qemu-ga missing from the image"
done
find "$ROOT" -exec touch -h -d "@$EPOCH" {} +

RAW=$WORK/root.raw
truncate -s "${ROOT_MIB}M" "$RAW"
FS_UUID=$(echo "$FP" | sed -E 's/^(.{8})(.{4}).(.{3}).(.{3})(.{12}).*/\1-\2-4\3-8\4-\5/')
E2FSPROGS_FAKE_TIME=$EPOCH mkfs.ext4 -q -F -L tiny-root -U "$FS_UUID" -m 0 \
	-E "root_owner=0:0,hash_seed=$FS_UUID" -d "$ROOT" "$RAW" ||
	die "mkfs.ext4 -d failed (root file system larger than ${ROOT_MIB} MiB?)"
# Reproducible: mkfs -d copies each file's ctime and gives inodes a random generation;
# pin both (and atime) so the same inputs always give the same root.qcow2 bytes.
(cd "$ROOT" && find . -mindepth 1 | sed 's|^\.||') | while IFS= read -r path; do
	case "$path" in *'"'* | *\\*) die "unsupported character in image path: $path" ;; esac
	printf 'sif "%s" ctime @%s\nsif "%s" atime @%s\nsif "%s" generation 0\n' \
		"$path" "$EPOCH" "$path" "$EPOCH" "$path"
done >"$WORK/debugfs.cmds"
E2FSPROGS_FAKE_TIME=$EPOCH debugfs -w -f "$WORK/debugfs.cmds" "$RAW" >/dev/null 2>"$WORK/debugfs.log" ||
	die "debugfs failed: $(tail -n 3 "$WORK/debugfs.log")"
if grep -v '^debugfs [0-9]' "$WORK/debugfs.log" | grep -q .; then
	die "debugfs reported: $(grep -v '^debugfs [0-9]' "$WORK/debugfs.log" | tail -n 3)"
fi
qemu-img convert -q -f raw -O qcow2 "$RAW" "$STAGE/root.qcow2"
rm -f "$RAW"
install -m 0644 "$KERNEL" "$STAGE/vmlinuz"

ROOT_USED_KIB=$(du -sk "$ROOT" | cut -f1)
# (awk reads all input: no SIGPIPE under pipefail)
QEMU_GA_VERSION=$("$QEMU_GA" --version 2>/dev/null | awk '/Agent/ {for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+[.][0-9.]+$/) {print $i; exit}}' || true)
BUSYBOX_VERSION=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null || true)
INITRD_NAMES=("${MOD_NAMES[@]:0:INITRD_COUNT}")
EXTRA_NAMES=("${MOD_NAMES[@]:INITRD_COUNT}")
python3 - "$STAGE" "$OUT" <<PY
import hashlib, json, os, subprocess, sys, datetime
stage, out = sys.argv[1], sys.argv[2]
def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
info = json.loads(subprocess.check_output(
    ["qemu-img", "info", "--output=json", os.path.join(stage, "root.qcow2")]))
files = {}
for name in ("vmlinuz", "initrd.img", "root.qcow2"):
    p = os.path.join(stage, name)
    files[name] = {"path": os.path.join(out, name), "size": os.path.getsize(p), "sha256": sha(p)}
meta = {
    "id": "$IMAGE_ID",
    "name": "$IMAGE_NAME",
    "os": "busybox-linux",
    "os_release": {"ID": "tiny-linux", "VERSION_ID": "1.0", "PRETTY_NAME": "VM Persona tiny Linux"},
    "arch": "x86_64",
    "kernel_version": "$KVER",
    "kernel": os.path.join(out, "vmlinuz"),
    "initrd": os.path.join(out, "initrd.img"),
    "root_disk": os.path.join(out, "root.qcow2"),
    "root_disk_format": "qcow2",
    "root_disk_readonly_base": True,
    "root_device": "/dev/vda",
    "root_fstype": "ext4",
    "cmdline": "$CMDLINE",
    "checksum": "sha256:" + files["root.qcow2"]["sha256"],
    "virtual_size": info["virtual-size"],
    "min_memory_mib": 128,
    "recommended_memory_mib": 192,
    "min_vcpus": 1,
    "domain_type": "qemu",
    "machine": "pc",
    "disk_bus": "virtio",
    "nic_model": "virtio",
    "guest_agent": {"channel": "org.qemu.guest_agent.0", "version": "$QEMU_GA_VERSION"},
    "virtio_modules": "${INITRD_NAMES[*]}".split(),
    "extra_modules": "${EXTRA_NAMES[*]}".split(),
    "builtin_modules": "${BUILTIN[*]}".split(),
    "files": files,
    "build": {
        "inputs_sha256": "$FP",
        "built_at": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
        "busybox_version": "$BUSYBOX_VERSION",
        "root_fs_uuid": "$FS_UUID",
        "root_fs_used_kib": $ROOT_USED_KIB,
        "builder": "scripts/build-guest-image.sh",
    },
}
with open(os.path.join(stage, "image.json"), "w") as f:
    json.dump(meta, f, indent=2)
    f.write("\n")
PY
chmod 0644 "$STAGE"/*
# the shared base of every guest's overlay: nothing writes it (libvirt may chown it to the
# qemu user when a guest uses it as a backing file; the mode keeps it read-only)
chmod 0444 "$STAGE/root.qcow2"
chmod 0755 "$STAGE"

OLD_SUM=
if [ -f "$OUT/image.json" ]; then
	OLD_SUM=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("checksum",""))' "$OUT/image.json" 2>/dev/null || true)
fi
NEW_SUM=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["checksum"])' "$STAGE/image.json")

# --- install: two renames in the same folder --------------------------------------------------
if [ -e "$OUT" ]; then
	mv -T "$OUT" "$WORK/previous"
fi
mv -T "$STAGE" "$OUT"
rm -rf "$WORK"
trap - EXIT

END=$(date +%s.%N)
if [ -n "$OLD_SUM" ] && [ "$OLD_SUM" != "$NEW_SUM" ]; then
	echo "build-guest-image: note: root.qcow2 changed; recreate overlays that were backed by the previous one" >&2
fi
printf 'build-guest-image: built %s (kernel %s, root %s MiB, %s) in %.1f s\n' \
	"$OUT" "$KVER" "$ROOT_MIB" "$NEW_SUM" "$(awk -v s="$START" -v e="$END" 'BEGIN {print e - s}')"
