// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * huge_kconfig.c: a __kconfig extern no configuration value can fill.
 *
 * Extern:
 *   CONFIG_TSBPF_HUGE  a __weak char array of 1979711489 bytes: a .kconfig map
 *                      of that size, zero-filled and copied to the kernel, if
 *                      a loader believed it
 *
 * Program:
 *   kconfig  SEC("socket"): returns CONFIG_TSBPF_HUGE[5]
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

extern char CONFIG_TSBPF_HUGE[1979711489] __kconfig __weak;

SEC("socket")
int kconfig(void *ctx)
{
	return CONFIG_TSBPF_HUGE[5];
}
