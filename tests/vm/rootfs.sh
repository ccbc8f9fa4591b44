#!/bin/sh
# The VM test's guest root: a minbase Debian with Python and the profiler's runtime libraries,
# packed as one gzip'd newc cpio, so the kernel unpacks it into its rootfs (an initramfs: no
# disk, and so no disk drivers or modules needed in the guest kernel).
#
#   rootfs.sh OUT.cpio.gz SUITE MIRROR KEYRING PACKAGES   (PACKAGES comma-separated)
set -eu
[ $# -eq 5 ] || { echo "usage: rootfs.sh OUT.cpio.gz SUITE MIRROR KEYRING PACKAGES" >&2; exit 2; }
out=$1 suite=$2 mirror=$3 keyring=$4 packages=$5

dir=$(mktemp -d "$out.XXXXXX")
chmod 755 "$dir"  # it becomes the guest's /
# --one-file-system: should debootstrap die with /proc or /dev still mounted in the
# target, the host's own files under those mounts are never deleted.
cleanup() {
	awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r |
		while read -r m; do umount -l "$m"; done
	rm -rf --one-file-system "$dir" "$out.tmp"
}
trap cleanup EXIT

debootstrap --variant=minbase --include="$packages" --keyring="$keyring" \
	"$suite" "$dir" "$mirror" >"$out.debootstrap.log" 2>&1 ||
	{ echo "rootfs.sh: debootstrap failed; tail of $out.debootstrap.log:" >&2
	  tail -n 5 "$out.debootstrap.log" >&2; exit 1; }
# Nothing in the guest reads documentation, locales or apt's caches.
rm -rf "$dir/usr/share/doc" "$dir/usr/share/man" "$dir/usr/share/locale" \
	"$dir/var/cache/apt/"*.bin "$dir/var/cache/apt/archives/"*.deb "$dir/var/lib/apt/lists/"*
(cd "$dir" && find . -print0 | cpio --null --quiet -o -H newc) | gzip -6 >"$out.tmp"
mv "$out.tmp" "$out"
