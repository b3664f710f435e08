#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR MIT)
#
# Rebuild tsbpf's test BPF objects: every bpf/*.c -> bpf/*.o.
#
#   bpf/build.sh            build (an object is replaced only if its bytes change)
#   bpf/build.sh --check    build into a temporary directory and fail if any
#                           committed object differs from what the sources give
#   bpf/build.sh FILE.c...  only these sources
#
# Toolchain (Debian 12): apt-get install -y clang-19 llvm-19 libbpf-dev
#   clang-19       compiler (override with CLANG=...)
#   llvm-strip-19  drops DWARF, keeps .BTF/.BTF.ext (override with STRIP=...)
#   libbpf-dev     <bpf/bpf_helpers.h>, <bpf/bpf_core_read.h>, <bpf/bpf_tracing.h>
#                  (Debian's libbpf 1.1.2 headers)
#
# Each object is built as
#   clang-19 -O2 -g -target bpf -D__TARGET_ARCH_x86 -I include \
#            -Wall -Werror -fdebug-prefix-map=$PWD=bpf -c X.c -o X.o
#   llvm-strip-19 -g X.o
# from inside bpf/. The file names in BTF line info read "bpf/X.c" wherever
# the repository is checked out: the same sources and toolchain give
# byte-identical objects (--check relies on it).
set -euo pipefail

CLANG=${CLANG:-clang-19}
STRIP=${STRIP:-llvm-strip-19}
cd "$(dirname "$0")"

# -fdebug-prefix-map: BTF line info records each source's absolute path;
# mapping this directory to "bpf" keeps the objects independent of where
# the repository is checked out.
CFLAGS=(-O2 -g -target bpf -D__TARGET_ARCH_x86 -I include -Wall -Werror
	"-fdebug-prefix-map=$PWD=bpf")

check=0
if [[ ${1:-} == --check ]]; then
	check=1
	shift
fi

for tool in "$CLANG" "$STRIP"; do
	if ! command -v "$tool" >/dev/null; then
		echo "build.sh: $tool not found (apt-get install -y clang-19 llvm-19 libbpf-dev)" >&2
		exit 1
	fi
done
if [[ ! -f /usr/include/bpf/bpf_helpers.h ]]; then
	echo "build.sh: <bpf/bpf_helpers.h> not found (apt-get install -y libbpf-dev)" >&2
	exit 1
fi

if [[ $# -gt 0 ]]; then
	sources=("$@")
else
	sources=(*.c)
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

status=0
for src in "${sources[@]}"; do
	src=$(basename "$src")
	obj=${src%.c}.o
	"$CLANG" "${CFLAGS[@]}" -c "$src" -o "$tmp/$obj"
	"$STRIP" -g "$tmp/$obj"
	if cmp -s "$tmp/$obj" "$obj"; then
		echo "  same  $obj"
	elif [[ $check == 1 ]]; then
		echo "  DIFF  $obj (committed object is not what $src builds to)"
		status=1
	else
		cp "$tmp/$obj" "$obj"
		echo "  built $obj"
	fi
done
exit $status
