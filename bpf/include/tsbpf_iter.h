/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * tsbpf_iter.h: the iterator contexts of the attach_iter_*.c programs
 * (include/linux/bpf.h, kernel/bpf/task_iter.c, map_iter.c, cgroup_iter.c),
 * only the fields used, read with CO-RE.
 */
#ifndef TSBPF_ITER_H
#define TSBPF_ITER_H

#include "tsbpf_kernel.h"

struct seq_file;
struct bpf_map;
struct cgroup;

struct bpf_iter_meta {
	struct seq_file *seq;
	__u64 session_id;
	__u64 seq_num;
} __attribute__((preserve_access_index));

struct bpf_iter__task {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
} __attribute__((preserve_access_index));

struct bpf_iter__bpf_map_elem {
	struct bpf_iter_meta *meta;
	struct bpf_map *map;
	void *key;
	void *value;
} __attribute__((preserve_access_index));

struct bpf_iter__cgroup {
	struct bpf_iter_meta *meta;
	struct cgroup *cgroup;
} __attribute__((preserve_access_index));

#endif
