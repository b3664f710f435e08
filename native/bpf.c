/* bpf(cmd, attr, ptrMask, ...buffers) -> result | -errno
 *
 * attr is the encoded union bpf_attr (at most 256 bytes). Pointer fields cannot be
 * written from JS (JS has no addresses, and a forged one could make the kernel write
 * anywhere), so JS names them instead: bit i of ptrMask says the 8-byte word i of
 * attr is a pointer, and the k-th set bit takes the address of the k-th buffer
 * argument (null/undefined gives NULL). The call works on a private copy of attr and
 * copies the kernel's output back, leaving the pointer words as JS wrote them.
 *
 * So that no JS value can make the kernel touch memory it should not, each command
 * has a row below naming its pointer words and how long each buffer must be: a
 * length field of attr, or the key/value size of the map (cached per fd, see
 * map_meta). A pointer word that is not a buffer must be zero, and a command without
 * a row is refused. This is bookkeeping of the kernel ABI, not policy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "common.h"

#define ATTR_MAX 256
#define MAX_BUFS 8
#define ENOTSUPP_KERNEL 524

/* How long a pointer word's buffer must be. */
enum need {
  NEED_ANY,        /* the kernel only reads, with no length we can know: any length */
  NEED_CSTR,       /* a NUL-terminated string inside the buffer */
  NEED_U32,        /* u32 at attr offset a, times u32 at offset b (or 1 when b == 0) */
  NEED_INSNS,      /* u32 at a instructions of 8 bytes */
  NEED_KEY,        /* the map's key_size */
  NEED_VALUE,      /* the map's value size as user space sees it */
  NEED_KEYS,       /* count (u32 at a) keys */
  NEED_VALUES,     /* count (u32 at a) values */
  NEED_CURSOR,     /* a batch cursor: max(key_size, 4) */
  NEED_OUT_U32,    /* u32 at a, which must be nonzero when the pointer is set (0 means unbounded to the kernel) */
  NEED_U64S,       /* u32 at a u64 values */
  NEED_NEVER,      /* a pointer the addon does not pass (arrays of pointers): must stay zero */
};

struct ptr_rule {
  uint8_t word;
  uint8_t need;
  uint16_t a, b;
};

struct cmd_rule {
  bool known;
  bool nulls_info;     /* zero the buffer first: it may carry nested pointers (OBJ_GET_INFO_BY_FD) */
  int16_t map_fd_off;  /* attr offset of the map fd for NEED_KEY/VALUE/..., -1 for none */
  uint8_t nptr;
  struct ptr_rule ptr[8];
};

/* enum bpf_cmd values. */
enum {
  MAP_CREATE, MAP_LOOKUP_ELEM, MAP_UPDATE_ELEM, MAP_DELETE_ELEM, MAP_GET_NEXT_KEY, PROG_LOAD,
  OBJ_PIN, OBJ_GET, PROG_ATTACH, PROG_DETACH, PROG_TEST_RUN, PROG_GET_NEXT_ID, MAP_GET_NEXT_ID,
  PROG_GET_FD_BY_ID, MAP_GET_FD_BY_ID, OBJ_GET_INFO_BY_FD, PROG_QUERY, RAW_TRACEPOINT_OPEN,
  BTF_LOAD, BTF_GET_FD_BY_ID, TASK_FD_QUERY, MAP_LOOKUP_AND_DELETE_ELEM, MAP_FREEZE,
  BTF_GET_NEXT_ID, MAP_LOOKUP_BATCH, MAP_LOOKUP_AND_DELETE_BATCH, MAP_UPDATE_BATCH,
  MAP_DELETE_BATCH, LINK_CREATE, LINK_UPDATE, LINK_GET_FD_BY_ID, LINK_GET_NEXT_ID,
  ENABLE_STATS, ITER_CREATE, LINK_DETACH, PROG_BIND_MAP, TOKEN_CREATE, PROG_STREAM_READ_BY_FD,
  CMD_COUNT
};

#define NONE {.known = true, .map_fd_off = -1}
#define P(w, n, a_, b_) {w, n, a_, b_}

static const struct cmd_rule rules[CMD_COUNT] = {
  /* excl_prog_hash (6.17): read, excl_prog_hash_size at 88 */
  [MAP_CREATE] = {true, false, -1, 1, {P(10, NEED_U32, 88, 0)}},
  [MAP_LOOKUP_ELEM] = {true, false, 0, 2, {P(1, NEED_KEY, 0, 0), P(2, NEED_VALUE, 0, 0)}},
  [MAP_UPDATE_ELEM] = {true, false, 0, 2, {P(1, NEED_KEY, 0, 0), P(2, NEED_VALUE, 0, 0)}},
  [MAP_DELETE_ELEM] = {true, false, 0, 1, {P(1, NEED_KEY, 0, 0)}},
  [MAP_GET_NEXT_KEY] = {true, false, 0, 2, {P(1, NEED_KEY, 0, 0), P(2, NEED_KEY, 0, 0)}},
  /* insns (insn_cnt*8), license, log_buf (log_size), func_info, line_info, fd_array,
   * core_relos, signature (6.17) */
  [PROG_LOAD] = {true, false, -1, 8,
                 {P(1, NEED_INSNS, 4, 0), P(2, NEED_CSTR, 0, 0), P(4, NEED_U32, 28, 0), P(10, NEED_U32, 76, 88),
                  P(12, NEED_U32, 92, 104), P(15, NEED_ANY, 0, 0), P(16, NEED_U32, 116, 136), P(19, NEED_U32, 160, 0)}},
  [OBJ_PIN] = {true, false, -1, 1, {P(0, NEED_CSTR, 0, 0)}},
  [OBJ_GET] = {true, false, -1, 1, {P(0, NEED_CSTR, 0, 0)}},
  [PROG_ATTACH] = NONE,
  [PROG_DETACH] = NONE,
  /* data_in, data_out, ctx_in, ctx_out */
  [PROG_TEST_RUN] = {true, false, -1, 4,
                     {P(2, NEED_U32, 8, 0), P(3, NEED_OUT_U32, 12, 0), P(6, NEED_U32, 40, 0), P(7, NEED_U32, 44, 0)}},
  [PROG_GET_NEXT_ID] = NONE,
  [MAP_GET_NEXT_ID] = NONE,
  [PROG_GET_FD_BY_ID] = NONE,
  [MAP_GET_FD_BY_ID] = NONE,
  [OBJ_GET_INFO_BY_FD] = {true, true, -1, 1, {P(1, NEED_U32, 4, 0)}},
  /* prog_ids, prog_attach_flags, link_ids, link_attach_flags: prog_cnt u32 each */
  [PROG_QUERY] = {true, false, -1, 4,
                  {P(2, NEED_U32, 24, 0), P(4, NEED_U32, 24, 0), P(5, NEED_U32, 24, 0), P(6, NEED_U32, 24, 0)}},
  [RAW_TRACEPOINT_OPEN] = {true, false, -1, 1, {P(0, NEED_CSTR, 0, 0)}},
  /* btf (btf_size), btf_log_buf (btf_log_size) */
  [BTF_LOAD] = {true, false, -1, 2, {P(0, NEED_U32, 16, 0), P(1, NEED_U32, 20, 0)}},
  [BTF_GET_FD_BY_ID] = NONE,
  [TASK_FD_QUERY] = {true, false, -1, 1, {P(2, NEED_U32, 12, 0)}},
  [MAP_LOOKUP_AND_DELETE_ELEM] = {true, false, 0, 2, {P(1, NEED_KEY, 0, 0), P(2, NEED_VALUE, 0, 0)}},
  [MAP_FREEZE] = NONE,
  [BTF_GET_NEXT_ID] = NONE,
  [MAP_LOOKUP_BATCH] = {true, false, 36, 4,
                        {P(0, NEED_CURSOR, 0, 0), P(1, NEED_CURSOR, 0, 0), P(2, NEED_KEYS, 32, 0), P(3, NEED_VALUES, 32, 0)}},
  [MAP_LOOKUP_AND_DELETE_BATCH] = {true, false, 36, 4,
                                   {P(0, NEED_CURSOR, 0, 0), P(1, NEED_CURSOR, 0, 0), P(2, NEED_KEYS, 32, 0), P(3, NEED_VALUES, 32, 0)}},
  [MAP_UPDATE_BATCH] = {true, false, 36, 4,
                        {P(0, NEED_CURSOR, 0, 0), P(1, NEED_CURSOR, 0, 0), P(2, NEED_KEYS, 32, 0), P(3, NEED_VALUES, 32, 0)}},
  [MAP_DELETE_BATCH] = {true, false, 36, 4,
                        {P(0, NEED_CURSOR, 0, 0), P(1, NEED_CURSOR, 0, 0), P(2, NEED_KEYS, 32, 0), P(3, NEED_VALUES, 32, 0)}},
  /* LINK_CREATE's pointer words depend on the attach type: see link_create_rule. */
  [LINK_CREATE] = NONE,
  [LINK_UPDATE] = NONE,
  [LINK_GET_FD_BY_ID] = NONE,
  [LINK_GET_NEXT_ID] = NONE,
  [ENABLE_STATS] = NONE,
  [ITER_CREATE] = NONE,
  [LINK_DETACH] = NONE,
  [PROG_BIND_MAP] = NONE,
  [TOKEN_CREATE] = NONE,
  /* stream_buf (stream_buf_len) */
  [PROG_STREAM_READ_BY_FD] = {true, false, -1, 1, {P(0, NEED_U32, 8, 0)}},
};

/* LINK_CREATE: attach_type (u32 at 8) picks the member of the attr union. */
enum { TRACE_ITER = 28, TRACE_KPROBE_MULTI = 42, TRACE_UPROBE_MULTI = 48, TRACE_KPROBE_SESSION = 56,
       TRACE_UPROBE_SESSION = 57, ATTACH_TYPE_MAX = 57 };
/* iter_info (iter_info_len at 24) */
static const struct cmd_rule link_iter = {true, false, -1, 1, {P(2, NEED_U32, 24, 0)}};
/* kprobe_multi: syms (char ** : not passed), addrs and cookies (cnt at 20) */
static const struct cmd_rule link_kprobe_multi = {true, false, -1, 3,
                                                  {P(3, NEED_NEVER, 0, 0), P(4, NEED_U64S, 20, 0), P(5, NEED_U64S, 20, 0)}};
/* uprobe_multi: path, offsets, ref_ctr_offsets, cookies (cnt at 48) */
static const struct cmd_rule link_uprobe_multi = {true, false, -1, 4,
                                                  {P(2, NEED_CSTR, 0, 0), P(3, NEED_U64S, 48, 0), P(4, NEED_U64S, 48, 0),
                                                   P(5, NEED_U64S, 48, 0)}};
static const struct cmd_rule no_pointers = NONE;

/* The row for cmd, given the attr it will be called with; NULL when not describable. */
static const struct cmd_rule *rule_for(int cmd, const uint64_t *attr) {
  if (cmd != LINK_CREATE) return &rules[cmd];
  uint32_t attach_type;
  memcpy(&attach_type, (const uint8_t *)attr + 8, 4);
  switch (attach_type) {
    case TRACE_ITER: return &link_iter;
    case TRACE_KPROBE_MULTI: case TRACE_KPROBE_SESSION: return &link_kprobe_multi;
    case TRACE_UPROBE_MULTI: case TRACE_UPROBE_SESSION: return &link_uprobe_multi;
    default: return attach_type <= ATTACH_TYPE_MAX ? &no_pointers : NULL;
  }
}

/* Commands whose result is a new file descriptor. */
static bool returns_fd(int cmd) {
  switch (cmd) {
    case MAP_CREATE: case PROG_LOAD: case OBJ_GET: case PROG_GET_FD_BY_ID: case MAP_GET_FD_BY_ID:
    case RAW_TRACEPOINT_OPEN: case BTF_LOAD: case BTF_GET_FD_BY_ID: case LINK_CREATE:
    case LINK_GET_FD_BY_ID: case ITER_CREATE: case TOKEN_CREATE: case ENABLE_STATS:
      return true;
    default:
      return false;
  }
}

/* ---- map sizes, per fd ------------------------------------------------------------
 * The kernel copies key_size and value-size bytes through the element pointers, sizes
 * that attr does not carry. They are learnt once per fd (readlink + OBJ_GET_INFO_BY_FD)
 * and forgotten when the fd is closed through this addon or handed out anew by it. */

struct map_meta {
  bool known;
  uint32_t key_size;
  uint64_t value_bytes;
};

static struct map_meta *metas;
static size_t metas_len;
static int possible_cpus;

static int read_possible_cpus(void) {
  FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
  int max = 0;
  if (f) {
    int lo, hi;
    char sep;
    while (fscanf(f, "%d", &lo) == 1) {
      hi = lo;
      if (fscanf(f, "%c", &sep) == 1 && sep == '-') {
        if (fscanf(f, "%d", &hi) != 1) break;
        if (fscanf(f, "%c", &sep) != 1) sep = '\n';
      }
      if (hi > max) max = hi;
      if (sep != ',') break;
    }
    fclose(f);
  }
  return max + 1;
}

static bool is_percpu(uint32_t type) {
  /* PERCPU_HASH, PERCPU_ARRAY, LRU_PERCPU_HASH, PERCPU_CGROUP_STORAGE */
  return type == 5 || type == 6 || type == 10 || type == 21;
}

/* Bytes of one value as user space reads it: per-CPU maps hold an 8-aligned slot per possible CPU. */
static uint64_t value_bytes(uint32_t type, uint32_t value_size) {
  return is_percpu(type) ? (uint64_t)((value_size + 7) & ~7u) * (uint64_t)possible_cpus : value_size;
}

void map_meta_forget(int fd) {
  if (fd >= 0 && (size_t)fd < metas_len) metas[fd].known = false;
}

static void map_meta_set(int fd, uint32_t type, uint32_t key_size, uint32_t value_size) {
  if (fd < 0) return;
  if ((size_t)fd >= metas_len) {
    size_t n = metas_len ? metas_len : 256;
    while (n <= (size_t)fd) n *= 2;
    struct map_meta *grown = realloc(metas, n * sizeof *grown);
    if (!grown) return; /* stays unknown: looked up again next time */
    memset(grown + metas_len, 0, (n - metas_len) * sizeof *grown);
    metas = grown;
    metas_len = n;
  }
  metas[fd].known = true;
  metas[fd].key_size = key_size;
  metas[fd].value_bytes = value_bytes(type, value_size);
}

/* Fills *m for fd. Returns false when fd is not a BPF map (the kernel will refuse the
 * command before touching any buffer). */
static bool map_meta_get(int fd, struct map_meta *m) {
  if (fd >= 0 && (size_t)fd < metas_len && metas[fd].known) {
    *m = metas[fd];
    return true;
  }
  char path[64], target[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(path, target, sizeof target - 1);
  if (n < 0) return false;
  target[n] = 0;
  if (strcmp(target, "anon_inode:bpf-map") != 0) return false;
  /* struct bpf_map_info: type @0, key_size @8, value_size @12 (88 bytes, no pointers) */
  uint8_t info[88];
  memset(info, 0, sizeof info);
  struct { uint32_t bpf_fd, info_len; uint64_t info; } attr = {(uint32_t)fd, sizeof info, (uint64_t)(uintptr_t)info};
  if (syscall(__NR_bpf, OBJ_GET_INFO_BY_FD, &attr, sizeof attr) != 0) return false;
  uint32_t type, key_size, value_size;
  memcpy(&type, info, 4);
  memcpy(&key_size, info + 8, 4);
  memcpy(&value_size, info + 12, 4);
  map_meta_set(fd, type, key_size, value_size);
  m->known = true;
  m->key_size = key_size;
  m->value_bytes = value_bytes(type, value_size);
  return true;
}

static uint32_t u32_at(const uint64_t *attr, uint16_t off) {
  uint32_t v;
  memcpy(&v, (const uint8_t *)attr + off, 4);
  return v;
}

/* The bytes a buffer of `rule` must hold; UINT64_MAX means "not checkable, refuse". */
static bool required_len(const uint64_t *attr, const struct ptr_rule *r, const struct map_meta *m, bool have_map,
                         uint64_t *need, const char **why) {
  *need = 0;
  switch (r->need) {
    case NEED_ANY:
    case NEED_CSTR:
      return true;
    case NEED_U32:
      *need = (uint64_t)u32_at(attr, r->a) * (r->b ? u32_at(attr, r->b) : 1);
      return true;
    case NEED_INSNS:
    case NEED_U64S:
      *need = (uint64_t)u32_at(attr, r->a) * 8;
      return true;
    case NEED_NEVER:
      *why = "this pointer word is not supported by the addon";
      return false;
    case NEED_OUT_U32:
      *need = u32_at(attr, r->a);
      if (*need == 0) {
        *why = "an output buffer needs a nonzero size field (0 means unbounded to the kernel)";
        return false;
      }
      return true;
    default:
      break;
  }
  if (!have_map) return true; /* not a map: the kernel refuses before copying */
  switch (r->need) {
    case NEED_KEY: *need = m->key_size; break;
    case NEED_VALUE: *need = m->value_bytes; break;
    case NEED_KEYS: *need = (uint64_t)u32_at(attr, r->a) * m->key_size; break;
    case NEED_VALUES: *need = (uint64_t)u32_at(attr, r->a) * m->value_bytes; break;
    case NEED_CURSOR: *need = m->key_size > 4 ? m->key_size : 4; break;
  }
  return true;
}

/* Checks every pointer word of `cmd` against its rule, fills them in attr, makes the
 * call and copies the kernel's output back to attr_js (pointer words excepted).
 * bufs/lens hold the buffer of each word named by mask (NULL/0 for NULL). */
/* Arrays bpf_prog_info points to, which OBJ_GET_INFO_BY_FD fills when given: map_ids
 * (nr_map_ids u32s) and xlated_prog_insns (xlated_prog_len bytes). Their pointers are
 * set by the addon from buffers JS passes after the info buffer, and cleared again
 * before JS sees the info. */
#define PROG_NESTED 2
struct nested_rule { uint16_t ptr_off, count_off, elem; };
static const struct nested_rule prog_nested[PROG_NESTED] = {{56, 52, 4}, {32, 20, 1}};
/* bpf_btf_info: the raw BTF (btf_size bytes); the second slot is unused (elem 0). */
static const struct nested_rule btf_nested[PROG_NESTED] = {{0, 8, 1}, {0, 0, 0}};

struct nested {
  void *buf[PROG_NESTED];
  size_t len[PROG_NESTED];
};

static void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static napi_value check_and_call(napi_env env, int cmd, uint64_t *attr, size_t attr_len, uint8_t *attr_js, uint32_t mask,
                                 void **bufs, size_t *lens, const struct nested *nested) {
  const struct cmd_rule *rule = rule_for(cmd, attr);
  if (rule == NULL) THROW_RANGE(env, "this attach type is not described by the addon (a newer kernel ABI)");
  for (uint32_t word = 0; word < 32 && (mask >> word); word++) {
    if (!(mask & (1u << word))) continue;
    if ((word + 1) * 8 > attr_len) THROW_RANGE(env, "ptrMask names a word beyond attr");
    bool allowed = false;
    for (int i = 0; i < rule->nptr; i++) allowed |= rule->ptr[i].word == word;
    if (!allowed) THROW_RANGE(env, "ptrMask names a word that is not a pointer of this command");
  }

  /* Every pointer word of the command: either a buffer named by the mask, or zero. */
  struct map_meta meta = {0};
  bool have_map = false, meta_tried = false;
  for (int i = 0; i < rule->nptr; i++) {
    const struct ptr_rule *r = &rule->ptr[i];
    if ((size_t)(r->word + 1) * 8 > attr_len) continue; /* the kernel reads zeros there */
    if (!(mask & (1u << r->word))) {
      if (attr[r->word] != 0) THROW_RANGE(env, "attr holds a pointer that ptrMask does not name");
      continue;
    }
    void *p = bufs[r->word];
    if (p == NULL) {
      attr[r->word] = 0; /* NULL: the kernel answers EFAULT or treats it as absent */
      continue;
    }
    if (rule->map_fd_off >= 0 && !meta_tried && r->need >= NEED_KEY && r->need <= NEED_CURSOR) {
      meta_tried = true;
      have_map = map_meta_get((int)u32_at(attr, (uint16_t)rule->map_fd_off), &meta);
    }
    uint64_t need;
    const char *why = NULL;
    if (!required_len(attr, r, &meta, have_map, &need, &why)) THROW_RANGE(env, why);
    if (need > lens[r->word]) THROW_RANGE(env, "a buffer is shorter than the kernel will read or write");
    if (r->need == NEED_CSTR && memchr(p, 0, lens[r->word]) == NULL) THROW_RANGE(env, "a string buffer is not NUL-terminated");
    if (rule->nulls_info) memset(p, 0, lens[r->word]);
    attr[r->word] = (uint64_t)(uintptr_t)p;
  }

  /* Nested arrays of a program's info (or a BTF object's raw data): only for a fd of
   * that kind and an info buffer that reaches the fields (the kernel reads no further
   * than info_len). */
  uint8_t *info = NULL;
  const struct nested_rule *nrules = NULL;
  if (nested && cmd == OBJ_GET_INFO_BY_FD && bufs[1] && (nested->buf[0] || nested->buf[1])) {
    int fd = (int)u32_at(attr, 0);
    if (fd_is_anon_inode(fd, "bpf-prog")) nrules = prog_nested;
    else if (fd_is_anon_inode(fd, "btf")) nrules = btf_nested;
  }
  if (nrules) {
    info = bufs[1];
    uint32_t info_len = u32_at(attr, 4);
    if (info_len > lens[1]) info_len = (uint32_t)lens[1];
    for (int i = 0; i < PROG_NESTED; i++) {
      if (!nested->buf[i]) continue;
      if (nrules[i].elem == 0) THROW_RANGE(env, "this object's info has no such nested array");
      if (nrules[i].ptr_off + 8u > info_len) THROW_RANGE(env, "info buffer too short for a nested array");
      put_u32(info + nrules[i].count_off, (uint32_t)(nested->len[i] / nrules[i].elem));
      put_u64(info + nrules[i].ptr_off, (uint64_t)(uintptr_t)nested->buf[i]);
    }
  }

  long r = syscall(__NR_bpf, cmd, attr, (unsigned int)attr_len);
  int err = r < 0 ? errno : 0;
  if (info)
    for (int i = 0; i < PROG_NESTED; i++)
      if (nested->buf[i]) put_u64(info + nrules[i].ptr_off, 0);
  if (r >= 0 && returns_fd(cmd)) {
    map_meta_forget((int)r);
    /* MAP_CREATE: the sizes are in attr already. */
    if (cmd == MAP_CREATE) map_meta_set((int)r, u32_at(attr, 0), u32_at(attr, 4), u32_at(attr, 8));
  }

  /* Copy back what the kernel may have written (counts, ids, retval, ...). */
  for (size_t word = 0; word * 8 < attr_len; word++) {
    if (word < 32 && (mask & (1u << word))) continue;
    size_t n = attr_len - word * 8 < 8 ? attr_len - word * 8 : 8;
    memcpy(attr_js + word * 8, (uint8_t *)attr + word * 8, n);
  }
  return make_int(env, r < 0 ? -err : r);
}

/* A command this table does not describe could take pointers we cannot check. */
static bool known_cmd(napi_env env, int cmd, napi_value *result) {
  if (cmd < CMD_COUNT && rules[cmd].known) return true;
  if (cmd < CMD_COUNT) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "this bpf command is not supported by the addon yet");
    *result = NULL;
  } else {
    *result = make_int(env, -EINVAL); /* as a kernel without the command answers */
  }
  return false;
}

static napi_value js_bpf(napi_env env, napi_callback_info info) {
  size_t argc = 3 + MAX_BUFS;
  napi_value argv[3 + MAX_BUFS], result;
  int64_t cmd64, mask64 = 0;
  void *attr_js;
  size_t attr_len;
  uint64_t attr[ATTR_MAX / 8];
  void *bufs[32];
  size_t lens[32];

  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) THROW_TYPE(env, "bpf(cmd, attr, ptrMask?, ...buffers)");
  if (!arg_small(env, argv[0], 0, 255, &cmd64, "cmd")) return NULL;
  if (!arg_bytes(env, argv[1], &attr_js, &attr_len, "attr")) return NULL;
  if (attr_len > ATTR_MAX) THROW_RANGE(env, "attr is longer than 256 bytes");
  if (argc >= 3) {
    napi_valuetype t;
    napi_typeof(env, argv[2], &t);
    if (t != napi_undefined && !arg_small(env, argv[2], 0, UINT32_MAX, &mask64, "ptrMask")) return NULL;
  }
  uint32_t mask = (uint32_t)mask64;
  int cmd = (int)cmd64;
  if (!known_cmd(env, cmd, &result)) return result;

  memset(attr, 0, sizeof attr);
  if (attr_len) memcpy(attr, attr_js, attr_len);

  /* Buffer arguments, in mask order. */
  size_t next = 3;
  for (uint32_t word = 0; word < 32 && (mask >> word); word++) {
    bufs[word] = NULL;
    lens[word] = 0;
    if (!(mask & (1u << word))) continue;
    if (next >= 3 + MAX_BUFS) THROW_RANGE(env, "too many pointer words");
    void *p = NULL;
    size_t len = 0;
    if (next < argc) {
      napi_typedarray_type type;
      napi_value ab;
      size_t offset;
      /* Fast path for the usual Uint8Array; anything else goes through arg_bytes. */
      if (napi_get_typedarray_info(env, argv[next], &type, &len, &p, &ab, &offset) != napi_ok || type != napi_uint8_array) {
        napi_valuetype t;
        napi_typeof(env, argv[next], &t);
        p = NULL;
        len = 0;
        if (t != napi_undefined && t != napi_null && !arg_bytes(env, argv[next], &p, &len, "pointer buffer")) return NULL;
      }
      if (len == 0) p = NULL;
    }
    bufs[word] = p;
    lens[word] = len;
    next++;
  }
  /* OBJ_GET_INFO_BY_FD: buffers after the info buffer are a program's nested arrays. */
  struct nested nested = {{NULL}, {0}};
  for (int i = 0; cmd == OBJ_GET_INFO_BY_FD && i < PROG_NESTED && next < argc; i++, next++) {
    napi_valuetype t;
    napi_typeof(env, argv[next], &t);
    if (t == napi_undefined || t == napi_null) continue;
    if (!arg_bytes(env, argv[next], &nested.buf[i], &nested.len[i], "nested info buffer")) return NULL;
    if (nested.len[i] == 0) nested.buf[i] = NULL;
  }
  return check_and_call(env, cmd, attr, attr_len, attr_js, mask, bufs, lens, &nested);
}

/* bpfIo(cmd, io, attrLen, ptrMask) -> result | -errno
 *
 * The same call with everything in one buffer, for hot paths: io starts with attr
 * (attrLen bytes) and the pointer words named by ptrMask hold offsets into io (0 for
 * NULL) instead of separate buffer arguments. One typed array to decode instead of
 * three is what makes a map lookup from JS cost little more than from C. */
static napi_value js_bpf_io(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], result;
  int64_t cmd64, attr_len64, mask64;
  void *io;
  size_t io_len;
  uint64_t attr[ATTR_MAX / 8];
  void *bufs[32];
  size_t lens[32];

  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) THROW_TYPE(env, "bpfIo(cmd, io, attrLen, ptrMask)");
  if (!arg_small(env, argv[0], 0, 255, &cmd64, "cmd")) return NULL;
  if (!arg_bytes(env, argv[1], &io, &io_len, "io")) return NULL;
  if (!arg_small(env, argv[2], 0, ATTR_MAX, &attr_len64, "attrLen")) return NULL;
  if (!arg_small(env, argv[3], 0, UINT32_MAX, &mask64, "ptrMask")) return NULL;
  size_t attr_len = (size_t)attr_len64;
  if (attr_len > io_len) THROW_RANGE(env, "attrLen is longer than io");
  uint32_t mask = (uint32_t)mask64;
  int cmd = (int)cmd64;
  if (!known_cmd(env, cmd, &result)) return result;

  memset(attr, 0, sizeof attr);
  if (attr_len) memcpy(attr, io, attr_len);
  for (uint32_t word = 0; word < 32 && (mask >> word); word++) {
    bufs[word] = NULL;
    lens[word] = 0;
    if (!(mask & (1u << word)) || (word + 1) * 8 > attr_len) continue; /* beyond attr: refused below */
    uint64_t off = attr[word];
    if (off == 0) continue;
    if (off >= io_len) THROW_RANGE(env, "a pointer offset is beyond io");
    bufs[word] = (uint8_t *)io + off;
    lens[word] = io_len - (size_t)off;
  }
  return check_and_call(env, cmd, attr, attr_len, io, mask, bufs, lens, NULL);
}

napi_value bpf_init(napi_env env, napi_value exports) {
  possible_cpus = read_possible_cpus();
  napi_property_descriptor props[] = {
    {"bpf", NULL, js_bpf, NULL, NULL, NULL, napi_enumerable, NULL},
    {"bpfIo", NULL, js_bpf_io, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK_NAPI(env, napi_define_properties(env, exports, 2, props));
  return exports;
}
