/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * vmlinux.h: a stand-in for the one the README's tutorial makes with
 *
 *   bpftool btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h
 *
 * (every type of the running kernel, 3 MB or more). The repository's objects
 * must build to the same bytes on every machine, so bpf/tutorial.c, which is
 * the tutorial's source word for word, gets the few UAPI types it uses from
 * tsbpf_types.h instead. Programs of your own: generate the real one.
 * It sits beside tutorial.c, not in include/, so that a program built with
 * -I .../bpf/include (for tsbpf's headers) still finds its own vmlinux.h.
 */
#ifndef TSBPF_VMLINUX_STANDIN_H
#define TSBPF_VMLINUX_STANDIN_H
#include "tsbpf_types.h"
#endif
