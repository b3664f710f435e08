{
  "targets": [
    {
      "target_name": "tsbpf",
      "sources": ["native/addon.c", "native/bpf.c", "native/mmap.c", "native/perf.c", "native/net.c", "native/fds.c", "native/poll.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-fvisibility=hidden", "-Wall", "-Wextra", "-Werror=implicit-function-declaration"]
    }
  ]
}
