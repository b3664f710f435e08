#!/bin/bash
# PID 1 of a test guest (started by init.sh with switch_root): the host's root read-only
# under a tmpfs overlay, the guest kernel's modules bound at /lib/modules. Mounts what
# the tests need, brings loopback up, runs the feature probes and the chosen test files,
# and writes every result as a JSON line to the second serial port (/dev/ttyS1), which
# run.ts reads back: nothing written here survives the guest. Progress goes to the
# console. Settings come from the kernel command line:
#   tsbpf_repo          the repository (dist/ built)
#   tsbpf_tests         test files to run, comma-separated stems (map-type,loader,...)
#   tsbpf_timeout       seconds for each test file (killed after)
#   tsbpf_corpus        $TSBPF_CORPUS of the host, when set
#   tsbpf_command       a script to run instead of the probes and tests (run.ts --command)
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb
[ -n "${tsbpf_corpus:-}" ] && export TSBPF_CORPUS=$tsbpf_corpus

say() { echo "tsbpf-guest: $*" >/dev/console; }
now() { date +%s%N; }
ms_since() { echo $((($(now) - $1) / 1000000)); }
# The kernel reboots (and QEMU, with -no-reboot, exits) when PID 1 ends; power off first.
finish() {
  exec 3>&-
  sync
  echo o >/proc/sysrq-trigger
  sleep 60
}
trap finish EXIT

# Results channel: raw, so nothing is added to the lines; held open so the settings stay.
exec 3>/dev/ttyS1
stty -F /dev/ttyS1 raw -echo
emit() { printf '%s\n' "$1" >&3; }
# A JSON string of $1 (process starts are slow under emulation: no node for this).
json_str() {
  local s
  s=$(printf '%s' "$1" | tr -d '\000-\010\013\014\016-\037')
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  printf '"%s"' "$s"
}

mount_fs() { # type target
  # Never over the repository (a clone in /tmp): the overlay root is writable anyway.
  case "$tsbpf_repo/" in "$2"/*) say "not mounting $1 at $2: the repository is under it"; return ;; esac
  mkdir -p "$2"
  mount -t "$1" "$1" "$2" || say "mounting $1 at $2 failed"
}
mount_fs tmpfs /run
mkdir -p /run/netns
mount_fs tmpfs /tmp
mount_fs devpts /dev/pts
mount_fs tmpfs /dev/shm
mount_fs bpf /sys/fs/bpf
mount_fs tracefs /sys/kernel/tracing
mount_fs securityfs /sys/kernel/security
mount_fs debugfs /sys/kernel/debug
mount_fs cgroup2 /sys/fs/cgroup
ip link set lo up || say "lo did not come up"
ln -sf /proc/self/fd /dev/fd 2>/dev/null
hostname tsbpf-guest

cd "$tsbpf_repo" || { say "no repository at $tsbpf_repo"; exit 1; }
emit "{\"t\":\"kernel\",\"release\":$(json_str "$(uname -r)"),\"version\":$(json_str "$(cat /proc/version)")}"

if [ -n "${tsbpf_command:-}" ]; then
  say "running $tsbpf_command"
  start=$(now)
  timeout -k 10 "$tsbpf_timeout" bash "$tsbpf_command" >/dev/console 2>&1
  status=$?
  emit "{\"t\":\"command:end\",\"status\":$status,\"ms\":$(ms_since "$start")}"
  emit '{"t":"done"}'
  exit 0
fi

say "feature probes"
start=$(now)
timeout -k 5 "$tsbpf_timeout" node dist/test/kernels/features.js >&3 2>/dev/console
status=$?
emit "{\"t\":\"features:end\",\"status\":$status,\"ms\":$(ms_since "$start")}"

IFS=, read -r -a files <<<"${tsbpf_tests:-}"
for f in "${files[@]}"; do
  say "$f"
  emit "{\"t\":\"file:start\",\"file\":\"$f.test.js\"}"
  start=$(now)
  # Under node --test as in npm test (the reporter, in the runner's process, opens no fd in
  # the file's). Without --foreground, timeout signals the whole process group it leads.
  # (node's --test-timeout would bound the whole file too, so the file's timeout is the one guard.)
  timeout -k 10 "$tsbpf_timeout" node --test \
    --test-reporter=./dist/test/kernels/reporter.js --test-reporter-destination=/dev/ttyS1 \
    "dist/test/$f.test.js" >/dev/console 2>/tmp/stderr
  status=$?
  ms=$(ms_since "$start")
  if [ "$status" != 0 ] && [ -s /tmp/stderr ]; then
    emit "{\"t\":\"stderr\",\"file\":\"$f.test.js\",\"text\":$(json_str "$(tail -c 4000 /tmp/stderr)")}"
  fi
  emit "{\"t\":\"file:end\",\"file\":\"$f.test.js\",\"status\":$status,\"ms\":$ms}"
  say "$f: exit $status, $((ms / 1000)) s"
done
emit '{"t":"done"}'
