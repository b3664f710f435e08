{
  "targets": [
    {
      "target_name": "tsbpf",
      "sources": ["native/addon.c", "native/bpf.c", "native/mmap.c", "native/perf.c", "native/net.c", "native/fds.c", "native/poll.c", "native/xsk.c", "native/fast.cc"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-fvisibility=hidden", "-Wall", "-Wextra"],
      "cflags_c": ["-Werror=implicit-function-declaration"],
      "cflags_cc": ["-std=gnu++17"]
    }
  ]
}
