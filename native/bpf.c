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
 * length field of attr, or the key/value size of the map (learnt from the kernel,
 * native/fds.c). A pointer word that is not a buffer must be zero, and a command
 * without a row is refused. This is bookkeeping of the kernel ABI, not policy.
 *
 * The kernel reads attr_len bytes of attr and zeros for the rest; the private copy is
 * zero-padded the same way, so every field the checks read is the value the kernel
 * will read. In particular a pointer word any byte of which lies inside attr_len is a
 * pointer word: the kernel takes its low bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "common.h"

#define ATTR_MAX 256
#define MAX_BUFS 8
/* The private copy of a struct bpf_*_info (232 bytes for a program in 6.18). */
#define INFO_MAX 1024

/* How long a pointer word's buffer must be. */
enum need {
  NEED_ANY,        /* the kernel only reads, with no length we can know: any length */
  NEED_CSTR,       /* a NUL-terminated string inside the buffer (passed as a private copy) */
  NEED_U32,        /* u32 at attr offset a, times u32 at offset b (or 1 when b == 0) */
  NEED_INSNS,      /* u32 at a instructions of 8 bytes */
  NEED_KEY,        /* the map's key_size */
  NEED_VALUE,      /* the map's value size as user space sees it */
  NEED_KEYS,       /* count (u32 at a) keys */
  NEED_VALUES,     /* count (u32 at a) values */
  NEED_CURSOR,     /* a batch cursor: max(key_size, 4) */
  NEED_OUT_U32,    /* u32 at a, which must be nonzero when the pointer is set (0 means unbounded to the kernel) */
  NEED_U64S,       /* u32 at a u64 values */
  NEED_U32S,       /* u32 at a u32 values */
  NEED_NEVER,      /* a pointer the addon does not pass (arrays of pointers): must stay zero */
};

struct ptr_rule {
  uint8_t word;
  uint8_t need;
  uint16_t a, b;
};

/* What a command returns. A new descriptor that could be a map, link or BTF object is
 * made under the exclusive fd lock (see native/fds.c); a program is not: a program fd
 * is safe for every checked call (the kernel refuses map commands on it, and program
 * info has the layout the nested rules expect), and verification can take seconds. */
enum result { RESULT_NONE, RESULT_FD, RESULT_PROG_FD };

struct cmd_rule {
  bool known;
  uint8_t result;
  int16_t map_fd_off;  /* attr offset of the map fd for NEED_KEY/VALUE/..., -1 for none */
  bool info;           /* word 1 points to a struct bpf_*_info: passed through a private copy */
  uint8_t nptr;
  struct ptr_rule ptr[8];
};

#define P(w, n, a_, b_) {w, n, a_, b_}
#define PTRS(...) sizeof((struct ptr_rule[]){__VA_ARGS__}) / sizeof(struct ptr_rule), {__VA_ARGS__}
/* A row: what the command returns, the map fd offset, whether word 1 is an info struct, the pointer words. */
#define ROW(result, map_fd_off, info, ...) {true, result, map_fd_off, info, PTRS(__VA_ARGS__)}
#define NONE(result) {true, result, -1, false, 0, {{0}}}

/* Arrays an object's info points to, which OBJ_GET_INFO_BY_FD fills when given. Their
 * pointers are set by the addon, in its private copy of info, from the buffers JS
 * passes after the info buffer (slot 0, slot 1), and cleared again before JS sees the
 * info. Which rows apply depends on the kind of object, asked of the kernel. */
enum kind { KIND_PROG, KIND_OTHER };
#define NESTED_SLOTS 2
struct nested_rule { uint8_t kind, slot; uint16_t ptr_off, count_off; uint8_t elem; };
/* The generated tables: enum bpf_cmd, rules, link_rules, nested_rules (npm run gen:abi). */
#define TSBPF_ABI_TABLES
#include "abi.h"

static uint32_t u32_at(const uint64_t *attr, uint16_t off) {
  uint32_t v;
  memcpy(&v, (const uint8_t *)attr + off, 4);
  return v;
}

/* The row for cmd, given the attr it will be called with; NULL when not describable. */
static const struct cmd_rule *rule_for(int cmd, const uint64_t *attr) {
  if (cmd != LINK_CREATE) return &rules[cmd];
  uint32_t attach_type = u32_at(attr, LINK_CREATE_ATTACH_TYPE_OFF);
  for (size_t i = 0; i < sizeof link_rules / sizeof link_rules[0]; i++)
    if (link_rules[i].attach_type == attach_type) return &link_rules[i].rule;
  return attach_type <= ATTACH_TYPE_MAX ? &rules[LINK_CREATE] : NULL;
}

struct nested {
  void *buf[NESTED_SLOTS];
  size_t len[NESTED_SLOTS];
};

static void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint64_t get_u64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* One call being prepared: what the addon substitutes for JS memory, to release after. */
struct call {
  uint64_t *attr;
  size_t attr_len;
  uint32_t mask;
  void **bufs;
  size_t *lens;
  char *strings[MAX_BUFS];
  int nstrings;
  uint8_t *info_js;   /* the JS info buffer, and the private copy the kernel fills */
  uint32_t info_len;
  const struct nested_rule *applied[NESTED_SLOTS];
  uint8_t info[INFO_MAX];
};

/* Bytes a buffer of rule r must hold; false (with *why) when it cannot be passed. */
static bool required_len(const uint64_t *attr, const struct ptr_rule *r, const struct map_sizes *m, uint64_t *need,
                         const char **why) {
  *need = 0;
  uint64_t value_bytes = m->value_size;
  if (m->percpu) {
    int cpus = possible_cpus();
    if (cpus <= 0 && (r->need == NEED_VALUE || r->need == NEED_VALUES)) {
      *why = "per-CPU values need the number of possible CPUs (/sys/devices/system/cpu/possible is unreadable)";
      return false;
    }
    value_bytes = (uint64_t)((m->value_size + 7ull) & ~7ull) * (uint64_t)cpus;
  }
  switch (r->need) {
    case NEED_ANY: case NEED_CSTR: break;
    case NEED_U32: *need = (uint64_t)u32_at(attr, r->a) * (r->b ? u32_at(attr, r->b) : 1); break;
    case NEED_INSNS: case NEED_U64S: *need = (uint64_t)u32_at(attr, r->a) * 8; break;
    case NEED_U32S: *need = (uint64_t)u32_at(attr, r->a) * 4; break;
    case NEED_KEY: *need = m->key_size; break;
    case NEED_VALUE: *need = value_bytes; break;
    case NEED_KEYS: *need = (uint64_t)u32_at(attr, r->a) * m->key_size; break;
    case NEED_VALUES: *need = (uint64_t)u32_at(attr, r->a) * value_bytes; break;
    case NEED_CURSOR: *need = m->key_size > 4 ? m->key_size : 4; break;
    case NEED_OUT_U32:
      *need = u32_at(attr, r->a);
      if (*need == 0) {
        *why = "an output buffer needs a nonzero size field (0 means unbounded to the kernel)";
        return false;
      }
      break;
    default:
      *why = "this pointer word is not supported by the addon";
      return false;
  }
  return true;
}

/* Checks every pointer word of the row and fills them into the private attr. Returns
 * an error for a RangeError, or NULL; *early is set to -errno when the call is not to
 * be made (memory ran out). Runs under
 * the fd lock the caller took for this row. */
static const char *prepare(struct call *c, const struct cmd_rule *rule, const struct nested *nested, int *early) {
  uint64_t *attr = c->attr;
  struct map_sizes sizes = {0};
  /* No sizes when the kernel has no BPF object at the map fd: the call is made with
   * every pointer NULL, so the kernel answers with its own error and copies nothing. */
  bool have_sizes = false, no_map = false;
  for (int i = 0; i < rule->nptr; i++) {
    const struct ptr_rule *r = &rule->ptr[i];
    if ((size_t)r->word * 8 >= c->attr_len) continue; /* wholly past attr_len: the kernel reads zeros */
    if (!(c->mask & (1u << r->word))) {
      if (attr[r->word] != 0) return "attr holds a pointer that ptrMask does not name";
      continue;
    }
    void *p = c->bufs[r->word];
    if (p == NULL) {
      attr[r->word] = 0; /* NULL: the kernel answers EFAULT or treats it as absent */
      continue;
    }
    if (r->need >= NEED_KEY && r->need <= NEED_CURSOR && !have_sizes) {
      /* A row without a map fd cannot size these buffers: they are passed as NULL. */
      no_map = rule->map_fd_off < 0 || map_sizes((int)u32_at(attr, (uint16_t)rule->map_fd_off), &sizes) != 0;
      have_sizes = true;
    }
    if (no_map) {
      attr[r->word] = 0;
      continue;
    }
    uint64_t need;
    const char *why = NULL;
    if (!required_len(attr, r, &sizes, &need, &why)) return why;
    if (need > c->lens[r->word]) return "a buffer is shorter than the kernel will read or write";
    if (r->need == NEED_CSTR) {
      char *s = cstr_copy(p, c->lens[r->word]);
      if (!s && errno == ENOMEM) {
        *early = -ENOMEM;
        return NULL;
      }
      if (!s) return "a string buffer is not NUL-terminated";
      c->strings[c->nstrings++] = s;
      p = s;
    }
    if (rule->info && r->word == 1) {
      /* The kernel reads info too (nested pointers, a map's hash pointer): it gets a
       * zeroed private copy that JS memory (shared with other threads) cannot change. */
      c->info_js = p;
      c->info_len = u32_at(attr, 4) < INFO_MAX ? u32_at(attr, 4) : INFO_MAX;
      memset(c->info, 0, c->info_len);
      put_u32((uint8_t *)attr + 4, c->info_len);
      p = c->info;
    }
    attr[r->word] = (uint64_t)(uintptr_t)p;
  }
  if (no_map)
    for (int i = 0; i < rule->nptr; i++)
      if ((size_t)rule->ptr[i].word * 8 < c->attr_len) attr[rule->ptr[i].word] = 0;

  if (!c->info_js || !nested || !(nested->buf[0] || nested->buf[1])) return NULL;
  if (!prog_kind_known()) return "nested info needs BPF_PROG_BIND_MAP (5.10) to tell a program from other objects";
  int kind = fd_is_prog((int)u32_at(attr, 0)) ? KIND_PROG : KIND_OTHER;
  for (int slot = 0; slot < NESTED_SLOTS; slot++) {
    if (!nested->buf[slot]) continue;
    const struct nested_rule *n = NULL;
    for (size_t i = 0; i < sizeof nested_rules / sizeof nested_rules[0]; i++)
      if (nested_rules[i].kind == kind && nested_rules[i].slot == slot) n = &nested_rules[i];
    if (!n) return "this object's info has no such nested array";
    /* Every byte written must lie inside info_len (the kernel reads no further). */
    if (n->ptr_off + 8u > c->info_len || n->count_off + 4u > c->info_len) return "info buffer too short for a nested array";
    uint64_t count = nested->len[slot] / n->elem;
    put_u32(c->info + n->count_off, count > UINT32_MAX ? UINT32_MAX : (uint32_t)count);
    put_u64(c->info + n->ptr_off, (uint64_t)(uintptr_t)nested->buf[slot]);
    c->applied[slot] = n;
  }
  return NULL;
}

/* After the syscall: clears the nested pointers the kernel wrote back and hands the
 * info to JS. */
static void finish(struct call *c, const struct nested *nested) {
  if (!c->info_js) return;
  for (int slot = 0; slot < NESTED_SLOTS; slot++) {
    const struct nested_rule *n = c->applied[slot];
    if (n && get_u64(c->info + n->ptr_off) == (uint64_t)(uintptr_t)nested->buf[slot]) put_u64(c->info + n->ptr_off, 0);
  }
  memcpy(c->info_js, c->info, c->info_len);
}

/* Checks every pointer word of `cmd` against its row, fills them in a private attr,
 * makes the call and copies the kernel's output back to attr_js (pointer words
 * excepted). bufs/lens hold the buffer of each word named by mask (NULL/0 for NULL). */
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

  bool wants_nested = rule->info && nested && (nested->buf[0] || nested->buf[1]);
  enum fd_lock_mode lock = rule->result == RESULT_FD ? FD_LOCK_EXCLUSIVE
                           : rule->map_fd_off >= 0 || wants_nested ? FD_LOCK_SHARED
                                                                   : FD_LOCK_NONE;
  struct call c;
  c.attr = attr;
  c.attr_len = attr_len;
  c.mask = mask;
  c.bufs = bufs;
  c.lens = lens;
  c.nstrings = 0;
  c.info_js = NULL;
  c.info_len = 0;
  c.applied[0] = c.applied[1] = NULL;

  fds_lock(lock);
  int early = 0, err = 0;
  long r = 0;
  const char *why = prepare(&c, rule, nested, &early);
  if (!why && !early) {
    r = syscall(__NR_bpf, cmd, attr, (unsigned int)attr_len);
    err = r < 0 ? errno : 0;
    finish(&c, nested);
    if (r >= 0 && rule->result != RESULT_NONE) fds_forget((int)r);
  }
  fds_unlock(lock);
  for (int i = 0; i < c.nstrings; i++) free(c.strings[i]);
  if (why) THROW_RANGE(env, why);
  if (early) return make_int(env, early);

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
  size_t argc = 3 + MAX_BUFS + NESTED_SLOTS;
  napi_value argv[3 + MAX_BUFS + NESTED_SLOTS], result;
  int64_t cmd64, mask64 = 0;
  void *attr_js;
  size_t attr_len;
  uint64_t attr[ATTR_MAX / 8];
  void *bufs[32];
  size_t lens[32];

  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  /* argc is now how many JS passed, which may be more than argv holds. */
  if (argc > sizeof argv / sizeof argv[0]) argc = sizeof argv / sizeof argv[0];
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
  /* OBJ_GET_INFO_BY_FD: buffers after the info buffer are nested arrays (see nested_rules). */
  struct nested nested = {{NULL}, {0}};
  for (int i = 0; cmd == OBJ_GET_INFO_BY_FD && i < NESTED_SLOTS && next < argc; i++, next++) {
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

/* A command whose row has no pointer words (ids, fds by id, attach, freeze, ...):
 * attr alone, copied back as the kernel left it (it writes next_id and the like). */
/* attr_len (at most 32) bytes of io into attr, in whole words where it can: a memcpy
 * of a length the compiler does not know is a call into libc (see HOT). */
HOT static inline void copy_attr(uint64_t attr[4], const uint8_t *io, uint32_t attr_len) {
  uint32_t w = 0;
  for (; w < attr_len / 8; w++) memcpy(&attr[w], io + 8 * w, 8);
  /* volatile: a byte loop the compiler would turn back into a memcpy call */
  volatile uint8_t *tail = (volatile uint8_t *)attr;
  for (uint32_t b = 8 * w; b < attr_len; b++) tail[b] = io[b];
}

HOT static const char *plain_call(int cmd, uint8_t *io, size_t io_len, uint32_t attr_len, uint32_t mask, int32_t *result) {
  if (cmd < 0 || cmd >= CMD_COUNT || !rules[cmd].known || rules[cmd].nptr != 0 || cmd == LINK_CREATE)
    return "bpfElem: element commands and commands without pointers only";
  if (attr_len > 32) return "bpfElem: attr is at most 32 bytes";
  if (attr_len > io_len) return "attrLen is longer than io";
  if (mask) return "ptrMask names a word that is not a pointer of this command";
  uint64_t attr[4] = {0};
  copy_attr(attr, io, attr_len);
  enum fd_lock_mode lock = rules[cmd].result == RESULT_FD ? FD_LOCK_EXCLUSIVE : FD_LOCK_NONE;
  fds_lock(lock);
  long r = raw_syscall3(__NR_bpf, cmd, (long)attr, attr_len);
  if (r >= 0 && rules[cmd].result != RESULT_NONE) fds_forget((int)r);
  fds_unlock(lock);
  volatile uint8_t *back = io; /* volatile: see copy_attr */
  for (uint32_t b = 0; b < attr_len; b++) back[b] = ((uint8_t *)attr)[b];
  *result = (int32_t)r;
  return NULL;
}

/* The element commands over a buffer registered once (native/fast.cc): io holds attr
 * (attr_len <= 32 bytes) and the pointer words hold offsets into io (0 for NULL), as
 * for bpfIo. Only the commands whose row is a map fd at offset 0 with key/value
 * pointers (lookup, update, delete, next key, lookup-and-delete) take this path, so
 * it needs neither the generic row walk nor attr copy-back (the kernel writes nothing
 * into their attr); commands without pointer words go to plain_call. The same rules as check_and_call: every pointer word checked
 * against the map's sizes, under the shared fd lock from the check to the end of the
 * syscall. Returns NULL with *result = 0 | -errno, or why the call was refused (then
 * nothing was done, so a caller may retry it elsewhere). Never touches JS. */
const char *bpf_elem_call(int cmd, uint8_t *io, size_t io_len, uint32_t attr_len, uint32_t mask, int32_t *result) {
  /* Their rows: word 1 a key; word 2 a value (a key for GET_NEXT_KEY), none for DELETE. */
  enum need second;
  switch (cmd) {
    case MAP_LOOKUP_ELEM: case MAP_UPDATE_ELEM: case MAP_LOOKUP_AND_DELETE_ELEM: second = NEED_VALUE; break;
    case MAP_GET_NEXT_KEY: second = NEED_KEY; break;
    case MAP_DELETE_ELEM: second = NEED_NEVER; break;
    default: return plain_call(cmd, io, io_len, attr_len, mask, result);
  }
  if (attr_len > 32) return "bpfElem: attr is at most 32 bytes";
  if (attr_len > io_len) return "attrLen is longer than io";
  uint32_t words = (attr_len + 7) / 8; /* a word any byte of which the kernel reads */
  uint32_t allowed = (second == NEED_NEVER ? 2u : 6u) & ((1u << words) - 1);
  /* A pointer must lie wholly inside attr: the kernel would take the low bytes of a partial one. */
  if (mask >> (attr_len / 8)) return "ptrMask names a word beyond attr";
  if (mask & ~allowed) return "ptrMask names a word that is not a pointer of this command";
  uint64_t attr[4] = {0};
  copy_attr(attr, io, attr_len);
  uint8_t *ptr[3] = {NULL, NULL, NULL};
  for (uint32_t w = 1; w <= 2; w++) {
    if (!(allowed & (1u << w))) continue;
    if (!(mask & (1u << w))) {
      if (attr[w] != 0) return "attr holds a pointer that ptrMask does not name";
      continue;
    }
    if (attr[w] >= io_len) return "a pointer offset is beyond io";
    if (attr[w]) ptr[w] = io + attr[w];
  }
  fds_lock(FD_LOCK_SHARED);
  struct map_sizes sizes;
  if (map_sizes((int)(uint32_t)attr[0], &sizes) != 0) {
    attr[1] = attr[2] = 0; /* no map at the fd: the kernel answers with its own error */
  } else {
    for (uint32_t w = 1; w <= 2; w++) {
      if (!ptr[w]) {
        if (allowed & (1u << w)) attr[w] = 0;
        continue;
      }
      uint64_t need = sizes.key_size;
      if (w == 2 && second == NEED_VALUE) {
        need = sizes.value_size;
        if (sizes.percpu) {
          int cpus = possible_cpus();
          if (cpus <= 0) {
            fds_unlock(FD_LOCK_SHARED);
            return "per-CPU values need the number of possible CPUs (/sys/devices/system/cpu/possible is unreadable)";
          }
          need = ((need + 7) & ~7ull) * (uint64_t)cpus;
        }
      }
      if (need > io_len - (size_t)(ptr[w] - io)) {
        fds_unlock(FD_LOCK_SHARED);
        return "a buffer is shorter than the kernel will read or write";
      }
      attr[w] = (uint64_t)(uintptr_t)ptr[w];
    }
  }
  long r = raw_syscall3(__NR_bpf, cmd, (long)attr, attr_len);
  fds_unlock(FD_LOCK_SHARED);
  *result = (int32_t)r;
  return NULL;
}

napi_value bpf_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"bpf", NULL, js_bpf, NULL, NULL, NULL, napi_enumerable, NULL},
    {"bpfIo", NULL, js_bpf_io, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK_NAPI(env, napi_define_properties(env, exports, 2, props));
  return exports;
}
