// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * attach_refused.c: programs of types this test machine cannot load, for the typed
 * errors of the loader and of attach.
 *
 *   lirc_decode   lirc_mode2            CONFIG_BPF_LIRC_MODE2 is off: NotSupported
 *   lsm_cg_bind   lsm_cgroup/socket_bind LSM programs are refused with EPERM: NotSupported
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>

SEC("lirc_mode2")
int lirc_decode(unsigned int *sample)
{
	return 0;
}

SEC("lsm_cgroup/socket_bind")
int lsm_cg_bind(void *ctx)
{
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
