// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * special_cgrp.c: cgroup local storage for test/special-maps.test.ts, apart from
 * special_maps.c because kernels before 6.2 refuse BPF_MAP_TYPE_CGRP_STORAGE (and
 * lack bpf_cgroup_from_id), which would stop every other program from loading.
 *
 *   cgrp_store  syscall  the u64 of cgroup id ctx->cgid in cgrps: results[0]
 *                        = the value found (created as 0), then adds 1; returns 0,
 *                        1 for no such cgroup, 2 when the storage could not be made
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>

struct cgroup;

struct {
	__uint(type, 32); /* BPF_MAP_TYPE_CGRP_STORAGE */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} cgrps SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} results SEC(".maps");

extern struct cgroup *bpf_cgroup_from_id(__u64 cgid) __ksym;
extern void bpf_cgroup_release(struct cgroup *cgrp) __ksym;

struct cgrp_args {
	__u64 cgid;
};

SEC("syscall")
int cgrp_store(struct cgrp_args *args)
{
	struct cgroup *cg = bpf_cgroup_from_id(args->cgid);
	__u32 slot = 0;
	__u64 *v;

	if (!cg)
		return 1;
	v = bpf_cgrp_storage_get(&cgrps, cg, 0, 1 /* BPF_LOCAL_STORAGE_GET_F_CREATE */);
	if (v) {
		bpf_map_update_elem(&results, &slot, v, BPF_ANY);
		*v += 1;
	}
	bpf_cgroup_release(cg);
	return v ? 0 : 2;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
