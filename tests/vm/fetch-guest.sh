#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fetch-guest.sh — fetch and prepare everything the SoftRoCE test guest needs.
#
# The host kernel has no RDMA stack and cannot load modules, so tests that need
# a real rxe device boot Debian's own kernels under QEMU (see run.sh). Two
# kernels are known (--kernel):
#   6.1   Debian 12's kernel, from the host's own apt lists (the default)
#   6.12  Debian's 6.12 LTS kernel as Debian 12 ships it (bookworm-backports),
#         fetched with a temporary sources list and scratch apt lists under
#         the cache, never installed. Debian 13's own build of the same kernel
#         needs gcc-14, whose binaries need glibc 2.38 (Debian 12 has 2.36),
#         so its headers cannot build a module on a Debian 12 host; the
#         backport is built with gcc-12 like 6.1 (tests/vm/README.md).
# This script puts into ${SANVERBS_CACHE:-<repo>/.cache}/vm/:
#   <kver>/root/      the unpacked linux-image package, with modules.dep
#   <kver>/vmlinux    the ELF kernel extracted from vmlinuz, booted via PVH
#   <kver>/headers/   linux-headers-<kver>, -common and linux-kbuild-*,
#                     unpacked together so out-of-tree modules build against it
#   <kver>/initrd.cpio  a minimal busybox initramfs (stage 1 of the guest)
#   env-<kernel>.sh   SV_KVER SV_VMLINUX SV_MODROOT SV_KHEADERS SV_INITRD
#   env.sh            the same for 6.1 (what older callers source)
# It is idempotent: a stamp keyed by the kernel version makes later runs cheap.
#
# Usage: fetch-guest.sh [--kernel 6.1|6.12|all] [--quiet] [--check-headers]
#   --kernel K       which kernel (default $SANVERBS_KERNEL, else 6.1); all: both
#   --quiet          print nothing on success (run.sh calls it on every run)
#   --check-headers  build a throw-away hello module in a temp dir to prove
#                    the unpacked headers work (also done on first fetch)
set -euo pipefail

# shellcheck source=tests/vm/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

QUIET=0
CHECK_HEADERS=0
KERNEL=${SANVERBS_KERNEL:-6.1}
ARGS=("$@")
while [ $# -gt 0 ]; do
    case $1 in
        --kernel) KERNEL=${2:?--kernel needs 6.1, 6.12 or all}; shift ;;
        --quiet) QUIET=1 ;;
        --check-headers) CHECK_HEADERS=1 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) sv_die "unknown option: $1" ;;
    esac
    shift
done

# Bump when the layout or the initramfs recipe changes, so old caches rebuild.
FORMAT=3
# Modules the initramfs loads before it can reach the host root over 9p and
# read the real /lib/modules (everything else is loaded later with modprobe).
INITRD_MODULES=(virtio_pci 9pnet_virtio 9p overlay virtio_console)

if [ "$KERNEL" = all ]; then
    for k in "${SV_KERNELS[@]}"; do
        "$0" "${ARGS[@]}" --kernel "$k" || exit
    done
    exit 0
fi
sv_kernel_known "$KERNEL" || sv_die "unknown kernel '$KERNEL' (known: ${SV_KERNELS[*]} all)"

mkdir -p "$SV_CACHE"
# Two runs may start at once on a fresh machine: serialise the fetch.
exec 8>"$SV_CACHE/.lock"
flock 8

# apt for this kernel: the host's own lists for 6.1; for 6.12 a sources list
# of bookworm-backports with its own lists and archive cache under the cache
# directory, so nothing on the host's apt state changes.
APT_OPTS=(-o APT::Sandbox::User=root)
LISTS=/var/lib/apt/lists
if [ "$KERNEL" != 6.1 ]; then
    APTDIR=$SV_CACHE/apt-$KERNEL
    LISTS=$APTDIR/lists
    mkdir -p "$LISTS/partial" "$APTDIR/cache"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-backports main" \
        >"$APTDIR/sources.list"
    APT_OPTS+=(-o "Dir::Etc::SourceList=$APTDIR/sources.list" -o Dir::Etc::SourceParts=/dev/null
               -o "Dir::State::Lists=$LISTS" -o "Dir::Cache=$APTDIR/cache")
fi
apt_update() { apt-get -q "${APT_OPTS[@]}" update >&2; }
ENVFILE=$SV_CACHE/env-$KERNEL.sh

# --- which kernel? ---------------------------------------------------------
# linux-image-amd64 is the metapackage that always depends on the current
# ABI (linux-image-6.1.0-NN-amd64); ask apt so a Debian point release moves us
# forward. Without package lists (fresh machine) update once; offline, fall
# back to the kernel already cached.
kernel_pkg() {
    apt-cache "${APT_OPTS[@]}" depends "linux-image-amd64$([ "$KERNEL" = 6.1 ] || echo /bookworm-backports)" 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n1 || true
}
command -v apt-cache >/dev/null || sv_die "apt-cache not found: this rig needs Debian"
# apt-cache rebuilds its cache on every call here (~0.7 s): remember the
# answer for as long as the package lists stay the same.
lists_sig() { { stat -c '%n %Y %s' "$LISTS"/*Packages* 2>/dev/null || true; } | sha256sum | cut -d' ' -f1; }
PKGFILE=$SV_CACHE/kernel-pkg$([ "$KERNEL" = 6.1 ] || echo "-$KERNEL")
lists_sig=$(lists_sig)
PKG=
if [ -f "$PKGFILE" ]; then
    read -r sig cached <"$PKGFILE" || true
    [ "${sig:-}" = "$lists_sig" ] && PKG=${cached:-}
fi
if [ -z "$PKG" ]; then
    PKG=$(kernel_pkg)
    [ -n "$PKG" ] && echo "$lists_sig $PKG" >"$PKGFILE"
fi
if [ -z "$PKG" ]; then
    apt_update || true
    PKG=$(kernel_pkg)
    lists_sig=$(lists_sig)
    [ -n "$PKG" ] && echo "$lists_sig $PKG" >"$PKGFILE"
fi
if [ -z "$PKG" ]; then
    if [ -f "$ENVFILE" ]; then
        sv_log "apt cannot name the $KERNEL kernel; reusing the cached one"
        # shellcheck disable=SC1090
        . "$ENVFILE"
        PKG=linux-image-$SV_KVER
    else
        sv_die "apt-cache depends linux-image-amd64 names no $KERNEL kernel package"
    fi
fi
case ${PKG#linux-image-} in
    "$KERNEL".*) ;;
    *) sv_die "apt names $PKG for kernel $KERNEL" ;;
esac
KVER=${PKG#linux-image-}
KDIR=$SV_CACHE/$KVER
ROOT=$KDIR/root
HDRROOT=$KDIR/headers
KHEADERS=$HDRROOT/usr/src/linux-headers-$KVER
VMLINUX=$KDIR/vmlinux
INITRD=$KDIR/initrd.cpio
STAMP=$KDIR/stamp
INITRD_STAMP=$KDIR/initrd.stamp
# The headers' companions (-common, linux-kbuild-*) are named differently by
# each series (linux-kbuild-6.1, linux-kbuild-6.12.NN+deb12): ask apt.
header_deps() {
    apt-cache "${APT_OPTS[@]}" depends "linux-headers-$KVER" 2>/dev/null |
        sed -n 's/^ *|\{0,1\}Depends: \(linux-\(headers-[^ ]*-common\|kbuild-[^ ]*\)\)$/\1/p'
}

write_env() {
    local tmp=$ENVFILE.tmp
    {
        echo "# written by tests/vm/fetch-guest.sh; source it for the guest kernel paths"
        printf 'SV_KVER=%q\n' "$KVER"
        printf 'SV_VMLINUX=%q\n' "$VMLINUX"
        printf 'SV_MODROOT=%q\n' "$ROOT"
        printf 'SV_KHEADERS=%q\n' "$KHEADERS"
        printf 'SV_INITRD=%q\n' "$INITRD"
    } >"$tmp"
    [ "$KERNEL" = 6.1 ] && cp -f "$tmp" "$SV_CACHE/env.sh"
    mv -f "$tmp" "$ENVFILE"
}

report() {
    [ "$QUIET" -eq 1 ] && return 0
    echo "SV_KVER=$KVER"
    echo "SV_VMLINUX=$VMLINUX"
    echo "SV_MODROOT=$ROOT"
    echo "SV_KHEADERS=$KHEADERS"
    echo "SV_INITRD=$INITRD"
    echo "env file: $ENVFILE"
}

# check_headers: build a one-line module out of tree against the unpacked
# headers, in a temp dir that is removed afterwards. Proves the Makefile fix,
# the kbuild tools and the compiler all fit together.
check_headers() {
    local t
    t=$(mktemp -d "${TMPDIR:-/tmp}/sv-hello.XXXXXX")
    cat >"$t/hello.c" <<'EOF'
#include <linux/module.h>
static int __init hello_init(void) { pr_info("sanverbs hello\n"); return 0; }
static void __exit hello_exit(void) { }
module_init(hello_init);
module_exit(hello_exit);
MODULE_LICENSE("GPL");
EOF
    echo 'obj-m := hello.o' >"$t/Kbuild"
    if ! make -s -C "$KHEADERS" M="$t" modules >"$t/build.log" 2>&1 || [ ! -f "$t/hello.ko" ]; then
        cat "$t/build.log" >&2
        rm -rf "$t"
        sv_die "out-of-tree test module did not build against $KHEADERS"
    fi
    local vermagic
    vermagic=$(modinfo -F vermagic "$t/hello.ko")
    rm -rf "$t"
    case $vermagic in
        "$KVER "*) [ "$QUIET" -eq 1 ] || sv_log "headers OK: hello.ko built, vermagic '$vermagic'" ;;
        *) sv_die "test module has vermagic '$vermagic', expected $KVER" ;;
    esac
}

# The init script is part of the initramfs recipe: its hash goes into the
# stamp so that editing it rebuilds the initramfs.
stage1_init() {
    cat <<'EOF'
#!/bin/busybox sh
# sanverbs guest stage 1 (generated by tests/vm/fetch-guest.sh).
# Load just enough to mount the host's / (read-only, 9p) under a tmpfs
# overlay, bind the unpacked guest modules in, and hand over to stage 2
# (tests/vm/guest-init.sh, read live from the host so it never goes stale).
/bin/busybox mkdir -p /bin /sbin /usr/bin /usr/sbin /proc /sys /dev
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
die() {
    # No init system to fall back to: say why on the console and power off,
    # so the host sees "no exit status" at once instead of a hang.
    echo "sanverbs stage1: $*" >/dev/console
    echo o >/proc/sysrq-trigger
    sleep 10
}
for m in $(cat /modules.list); do
    insmod "/lib/modules/$m" || die "insmod $m failed"
done
kver= modroot= stage2=
for a in $(cat /proc/cmdline); do
    case $a in
        sv_kver=*) kver=${a#sv_kver=} ;;
        sv_modroot=*) modroot=${a#sv_modroot=} ;;
        sv_stage2=*) stage2=${a#sv_stage2=} ;;
    esac
done
[ -n "$kver" ] && [ -n "$modroot" ] && [ -n "$stage2" ] || die "sv_kver/sv_modroot/sv_stage2 missing on the kernel command line"
mkdir -p /lower /rw /newroot
# cache=loose: the host root is read-only for the whole run, and caching cuts
# the 9p round trips that dominate exec/open under TCG.
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /lower || die "mount of the host root failed"
mount -t tmpfs -o mode=0755 tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /newroot || die "overlay mount failed"
mkdir -p "/newroot/lib/modules/$kver"
mount --bind "/lower$modroot/lib/modules/$kver" "/newroot/lib/modules/$kver" || die "cannot bind the guest modules"
for d in dev proc sys; do
    mount --move "/$d" "/newroot/$d"
done
exec switch_root /newroot /bin/bash "$stage2"
EOF
}

# Two stamps: the kernel (download, unpack, vmlinux, headers) is keyed by
# its version; the initramfs by the hash of its recipe, so editing stage 1
# rebuilds only the initramfs.
kernel_sig() { echo "format=$FORMAT kver=$KVER"; }
initrd_sig() { { stage1_init; echo "${INITRD_MODULES[*]}"; } | sha256sum | cut -d' ' -f1; }
kernel_ok() {
    # A prefix match, so that a stamp with more fields still counts.
    [ -f "$STAMP" ] && [[ "$(cat "$STAMP")" == "$(kernel_sig)"* ]] &&
        [ -f "$VMLINUX" ] && [ -f "$KHEADERS/Makefile" ] && [ -f "$ROOT/lib/modules/$KVER/modules.dep" ]
}
initrd_ok() {
    [ -f "$INITRD" ] && [ -f "$INITRD_STAMP" ] && [ "$(cat "$INITRD_STAMP")" = "$(initrd_sig)" ]
}

if kernel_ok && initrd_ok; then
    write_env
    [ "$CHECK_HEADERS" -eq 1 ] && check_headers
    report
    exit 0
fi

# gcc-12 and make are for the out-of-tree module build (the headers' Makefile
# calls gcc-12 by name, the compiler Debian built the kernel with).
# dwarves (pahole): the 6.12 module build calls it (module BTF) and Debian
# makes its headers depend on it.
sv_need_pkgs "${SV_HOST_PKGS[@]}" gcc-12 make libc6-dev zstd dwarves

fetch_kernel() {
    [ "$QUIET" -eq 1 ] || sv_log "preparing guest kernel $KVER in $KDIR"
    rm -rf "$KDIR"
    mkdir -p "$KDIR/debs"

    # download and unpack
    # APT::Sandbox::User=root: the _apt user usually cannot write into the cache
    # directory, and apt would warn about falling back anyway.
    local deps
    deps=$(header_deps)
    [ "$(echo "$deps" | wc -w)" = 2 ] || sv_die "linux-headers-$KVER: expected a -common and a kbuild dependency, apt says: $deps"
    # shellcheck disable=SC2086  # two package names
    (cd "$KDIR/debs" && apt-get -q "${APT_OPTS[@]}" download \
        "$PKG" "linux-headers-$KVER" $deps >&2)
    dpkg -x "$KDIR"/debs/linux-image-*.deb "$ROOT"
    local deb
    for deb in "$KDIR"/debs/linux-headers-*.deb "$KDIR"/debs/linux-kbuild-*.deb; do
        dpkg -x "$deb" "$HDRROOT"
    done
    rm -rf "$KDIR/debs"

    # The image package ships no modules.dep: modprobe in the guest needs it.
    depmod -b "$ROOT" "$KVER"

    # The arch headers' top Makefile includes the -common tree by absolute path
    # (/usr/src/...). Point it at the unpacked sibling, relative to this Makefile,
    # so the tree works wherever the cache lives. Its other links are relative.
    [ -f "$KHEADERS/Makefile" ] || sv_die "no $KHEADERS/Makefile"
    sed -i "s|^include /usr/src/linux-headers-\(.*\)/Makefile\$|include \$(dir \$(lastword \$(MAKEFILE_LIST)))../linux-headers-\1/Makefile|" \
        "$KHEADERS/Makefile"
    grep -q '^include [$](dir' "$KHEADERS/Makefile" || sv_die "unexpected headers Makefile: $(cat "$KHEADERS/Makefile")"

    # vmlinux
    # QEMU boots an ELF vmlinux through its PVH entry point: no firmware, no
    # in-guest decompression (the bzImage path costs ~5 s per boot under TCG).
    # Like the kernel's scripts/extract-vmlinux: try each xz (6.1) or zstd
    # (6.12) magic in the file until one decompresses to an ELF image. The
    # zstd stream is followed by the kernel's size word, which zstd calls
    # trailing garbage after writing everything: its status is ignored.
    /usr/bin/python3 - "$ROOT/boot/vmlinuz-$KVER" "$VMLINUX" <<'EOF'
import lzma, subprocess, sys
data = open(sys.argv[1], 'rb').read()
def xz(chunk):
    try:
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(chunk)
    except lzma.LZMAError:
        return b''
def zstd(chunk):
    return subprocess.run(['zstd', '-dcq'], input=chunk, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL).stdout
for magic, inflate in ((b'\xfd7zXZ\x00', xz), (b'\x28\xb5\x2f\xfd', zstd)):
    off = data.find(magic)
    while off >= 0:
        out = inflate(data[off:])
        if out[:4] == b'\x7fELF':
            open(sys.argv[2], 'wb').write(out)
            sys.exit(0)
        off = data.find(magic, off + 1)
sys.exit('no xz- or zstd-compressed ELF found in ' + sys.argv[1])
EOF

    check_headers
    kernel_sig >"$STAMP"
}

build_initrd() {
    # A minimal busybox initramfs: stage 1 of the guest, see stage1_init.
    local stage m cmd path base file_is_static
    stage=$(mktemp -d "$KDIR/initrd.XXXXXX")
    mkdir -p "$stage"/{bin,dev,proc,sys,lib/modules}
    cp /bin/busybox "$stage/bin/busybox"
    file_is_static=$(LC_ALL=C ldd "$stage/bin/busybox" 2>&1 || true)
    case $file_is_static in
        *"not a dynamic executable"*|*"statically linked"*) ;;
        *) sv_die "/bin/busybox is not static (install busybox-static)" ;;
    esac
    # Module load order from the unpacked tree's own dependency data.
    : >"$stage/modules.list"
    for m in "${INITRD_MODULES[@]}"; do
        modprobe -d "$ROOT" -S "$KVER" --show-depends "$m" | while read -r cmd path _; do
            [ "$cmd" = insmod ] || continue
            base=$(basename "$path")
            grep -qx "$base" "$stage/modules.list" && continue
            cp "$path" "$stage/lib/modules/$base"
            echo "$base" >>"$stage/modules.list"
        done
    done
    stage1_init >"$stage/init"
    chmod 755 "$stage/init"
    # The kernel's built-in initramfs already has /dev/console; add it anyway in
    # case a future config drops that, when we can (needs root).
    mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true
    # Uncompressed: unpacking a few MB is cheaper under TCG than inflating it.
    (cd "$stage" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) >"$INITRD.tmp"
    mv -f "$INITRD.tmp" "$INITRD"
    rm -rf "$stage"

    initrd_sig >"$INITRD_STAMP"
}

kernel_ok || fetch_kernel
initrd_ok || build_initrd

write_env
report
