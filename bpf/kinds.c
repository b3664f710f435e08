// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * kinds.c: one minimal program of every program kind tsbpf's section table
 * loads (each program type with each expected attach type it is loaded with;
 * BTF-attached kinds with a target every kernel with the kind has; three
 * iterator targets), for test/features.test.ts: the feature probe's answer
 * for each must equal the outcome of loading the program (the others
 * deferred), and programs of kinds the kernel refuses must fail with
 * ProgramError NotSupported. struct_ops (bpf/struct_ops.c) and freplace
 * (bpf/attach_freplace.c) need a map or a target program and live elsewhere.
 *
 * Each program returns a value every hook of its kind accepts: 1 (allow,
 * SK_PASS, NF_ACCEPT) for cgroup, socket-map, sk_lookup and netfilter hooks,
 * XDP_PASS (2) for XDP, 0 elsewhere (TC_ACT_OK, BPF_OK; fentry, fexit, LSM and
 * iterator programs must return 0). Sections, in the order below:
 *
 *   k_socket         socket
 *   k_reuseport      sk_reuseport
 *   k_reuse_migrate  sk_reuseport/migrate
 *   k_kprobe         kprobe
 *   k_kprobe_multi   kprobe.multi
 *   k_kprobe_sess    kprobe.session
 *   k_uprobe_multi   uprobe.multi
 *   k_uprobe_sess    uprobe.session
 *   k_tc             tc
 *   k_tcx_ingress    tcx/ingress
 *   k_tcx_egress     tcx/egress
 *   k_netkit_prim    netkit/primary
 *   k_netkit_peer    netkit/peer
 *   k_action         action
 *   k_tracepoint     tracepoint
 *   k_raw_tp         raw_tp
 *   k_raw_tp_w       raw_tp.w
 *   k_tp_btf         tp_btf/sys_enter
 *   k_fentry         fentry/bpf_fentry_test1
 *   k_fexit          fexit/bpf_fentry_test1
 *   k_fmod_ret       fmod_ret/bpf_modify_return_test
 *   k_lsm            lsm/file_open
 *   k_lsm_cgroup     lsm_cgroup/socket_bind
 *   k_iter_task      iter/task
 *   k_iter_map_elem  iter/bpf_map_elem
 *   k_iter_cgroup    iter/cgroup
 *   k_syscall        syscall
 *   k_xdp            xdp
 *   k_xdp_devmap     xdp/devmap
 *   k_xdp_cpumap     xdp/cpumap
 *   k_perf_event     perf_event
 *   k_lwt_in         lwt_in
 *   k_lwt_out        lwt_out
 *   k_lwt_xmit       lwt_xmit
 *   k_lwt_seg6       lwt_seg6local
 *   k_sockops        sockops
 *   k_skb_parser     sk_skb/stream_parser
 *   k_skb_stream_vd  sk_skb/stream_verdict
 *   k_skb_verdict    sk_skb/verdict
 *   k_sk_skb         sk_skb
 *   k_sk_msg         sk_msg
 *   k_lirc           lirc_mode2
 *   k_flow_dissect   flow_dissector
 *   k_cg_skb_in      cgroup_skb/ingress
 *   k_cg_skb_eg      cgroup_skb/egress
 *   k_sock_create    cgroup/sock_create
 *   k_sock_release   cgroup/sock_release
 *   k_post_bind4     cgroup/post_bind4
 *   k_post_bind6     cgroup/post_bind6
 *   k_bind4          cgroup/bind4
 *   k_bind6          cgroup/bind6
 *   k_connect4       cgroup/connect4
 *   k_connect6       cgroup/connect6
 *   k_connect_unix   cgroup/connect_unix
 *   k_sendmsg4       cgroup/sendmsg4
 *   k_sendmsg6       cgroup/sendmsg6
 *   k_sendmsg_unix   cgroup/sendmsg_unix
 *   k_recvmsg4       cgroup/recvmsg4
 *   k_recvmsg6       cgroup/recvmsg6
 *   k_recvmsg_unix   cgroup/recvmsg_unix
 *   k_getpeer4       cgroup/getpeername4
 *   k_getpeer6       cgroup/getpeername6
 *   k_getpeer_unix   cgroup/getpeername_unix
 *   k_getsock4       cgroup/getsockname4
 *   k_getsock6       cgroup/getsockname6
 *   k_getsock_unix   cgroup/getsockname_unix
 *   k_sysctl         cgroup/sysctl
 *   k_getsockopt     cgroup/getsockopt
 *   k_setsockopt     cgroup/setsockopt
 *   k_dev            cgroup/dev
 *   k_sk_lookup      sk_lookup
 *   k_netfilter      netfilter
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define KIND(section, name, ret)      \
	SEC(section)                  \
	int name(void *ctx)           \
	{                             \
		return ret;           \
	}

KIND("socket", k_socket, 0)
KIND("sk_reuseport", k_reuseport, 1)
KIND("sk_reuseport/migrate", k_reuse_migrate, 1)
KIND("kprobe", k_kprobe, 0)
KIND("kprobe.multi", k_kprobe_multi, 0)
KIND("kprobe.session", k_kprobe_sess, 0)
KIND("uprobe.multi", k_uprobe_multi, 0)
KIND("uprobe.session", k_uprobe_sess, 0)
KIND("tc", k_tc, 0)
KIND("tcx/ingress", k_tcx_ingress, 0)
KIND("tcx/egress", k_tcx_egress, 0)
KIND("netkit/primary", k_netkit_prim, 0)
KIND("netkit/peer", k_netkit_peer, 0)
KIND("action", k_action, 0)
KIND("tracepoint", k_tracepoint, 0)
KIND("raw_tp", k_raw_tp, 0)
KIND("raw_tp.w", k_raw_tp_w, 0)
KIND("tp_btf/sys_enter", k_tp_btf, 0)
KIND("fentry/bpf_fentry_test1", k_fentry, 0)
KIND("fexit/bpf_fentry_test1", k_fexit, 0)
KIND("fmod_ret/bpf_modify_return_test", k_fmod_ret, 0)
KIND("lsm/file_open", k_lsm, 0)
KIND("lsm_cgroup/socket_bind", k_lsm_cgroup, 1)
KIND("iter/task", k_iter_task, 0)
KIND("iter/bpf_map_elem", k_iter_map_elem, 0)
KIND("iter/cgroup", k_iter_cgroup, 0)
KIND("syscall", k_syscall, 0)
KIND("xdp", k_xdp, 2)
KIND("xdp/devmap", k_xdp_devmap, 2)
KIND("xdp/cpumap", k_xdp_cpumap, 2)
KIND("perf_event", k_perf_event, 0)
KIND("lwt_in", k_lwt_in, 0)
KIND("lwt_out", k_lwt_out, 0)
KIND("lwt_xmit", k_lwt_xmit, 0)
KIND("lwt_seg6local", k_lwt_seg6, 0)
KIND("sockops", k_sockops, 1)
KIND("sk_skb/stream_parser", k_skb_parser, 0)
KIND("sk_skb/stream_verdict", k_skb_stream_vd, 1)
KIND("sk_skb/verdict", k_skb_verdict, 1)
KIND("sk_skb", k_sk_skb, 1)
KIND("sk_msg", k_sk_msg, 1)
KIND("lirc_mode2", k_lirc, 0)
KIND("flow_dissector", k_flow_dissect, 0)
KIND("cgroup_skb/ingress", k_cg_skb_in, 1)
KIND("cgroup_skb/egress", k_cg_skb_eg, 1)
KIND("cgroup/sock_create", k_sock_create, 1)
KIND("cgroup/sock_release", k_sock_release, 1)
KIND("cgroup/post_bind4", k_post_bind4, 1)
KIND("cgroup/post_bind6", k_post_bind6, 1)
KIND("cgroup/bind4", k_bind4, 1)
KIND("cgroup/bind6", k_bind6, 1)
KIND("cgroup/connect4", k_connect4, 1)
KIND("cgroup/connect6", k_connect6, 1)
KIND("cgroup/connect_unix", k_connect_unix, 1)
KIND("cgroup/sendmsg4", k_sendmsg4, 1)
KIND("cgroup/sendmsg6", k_sendmsg6, 1)
KIND("cgroup/sendmsg_unix", k_sendmsg_unix, 1)
KIND("cgroup/recvmsg4", k_recvmsg4, 1)
KIND("cgroup/recvmsg6", k_recvmsg6, 1)
KIND("cgroup/recvmsg_unix", k_recvmsg_unix, 1)
KIND("cgroup/getpeername4", k_getpeer4, 1)
KIND("cgroup/getpeername6", k_getpeer6, 1)
KIND("cgroup/getpeername_unix", k_getpeer_unix, 1)
KIND("cgroup/getsockname4", k_getsock4, 1)
KIND("cgroup/getsockname6", k_getsock6, 1)
KIND("cgroup/getsockname_unix", k_getsock_unix, 1)
KIND("cgroup/sysctl", k_sysctl, 1)
KIND("cgroup/getsockopt", k_getsockopt, 1)
KIND("cgroup/setsockopt", k_setsockopt, 1)
KIND("cgroup/dev", k_dev, 1)
KIND("sk_lookup", k_sk_lookup, 1)
KIND("netfilter", k_netfilter, 1)
