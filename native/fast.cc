/* bpfElemFast(cmd, handle, attrLen, ptrMask) -> result | -errno | REFUSED, the buffers
 * it works on, and closeFast(fd); with bpfElem and close, their checked twins.
 *
 * The element commands are most of what a program does with maps, so their call
 * costs what it can: four numbers, no buffer argument. The buffer (attr, key, value,
 * laid out as for bpfIo) is made here once per map by elemBuffer(length), which
 * returns { handle, buffer }; JS writes into buffer, then passes handle.
 *
 * Why C++: Node-API has no fast calls. V8 calls a function registered with a
 * v8::CFunction straight from optimised code, without the API-callback trampoline,
 * the handle scope and the argument decoding of Node-API (about half the cost of a
 * bpfIo call, profiled). Only this file uses the V8 API; everything else stays
 * Node-API, and the checks are the C of native/bpf.c (bpf_elem_call).
 *  - The fast path needs the layout of V8's fast-call types, whose header Debian's
 *    node headers lack: declared below for V8 11.3 (Node 20) only, and checked
 *    against the constructor node exports. Any other V8 gets the slow function alone
 *    (same results, Node-API-like cost).
 *  - The fast functions never throw and never ask V8 for its fallback: whatever they
 *    refuse (a non-number, a non-integer, an unknown handle, a bad row) they answer
 *    with REFUSED (INT32_MIN, no errno), having done nothing. In V8 11.3 an exception
 *    thrown by the fallback of a fast call skips the try/catch of the optimised
 *    function that made the call (found by the native fuzzer: the process ended on an
 *    exception its caller caught). src/sys/native.ts turns REFUSED into a call of the
 *    checked twin (bpfElem, close: ordinary functions), which throws the
 *    RangeError/TypeError.
 *
 * Safety of a registered buffer: its memory is allocated here and its backing store
 * is held by the handle's slot, so neither garbage collection nor detaching the
 * ArrayBuffer (a transfer to a worker) can free it while a handle names it. When the
 * ArrayBuffer object is collected the slot is retired (its generation changes, so the
 * handle is refused) and the memory released at the next elemBuffer call, outside GC.
 * Slots are per thread (each worker has its own isolate and table).
 *
 * napi_value and v8::Local<v8::Value> are the same pointer in node (its
 * v8impl::V8LocalValueFromJsValue copies one into the other); the static_assert below
 * checks the size, and only the exports object crosses. */
#include <node_api.h>
#include <v8.h>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>
#include <sys/syscall.h>
#include <unistd.h>

extern "C" {
#include "common.h"
}

#if V8_MAJOR_VERSION == 11 && V8_MINOR_VERSION == 3
#define TSBPF_FAST_CALLS 1
/* The fast-call types of V8 11.3 (include/v8-fast-api-calls.h), as far as used here:
 * a CTypeInfo is three bytes (type, sequence type, flags), CFunctionInfo is built by
 * V8's exported constructor, CFunction is {address, info}, and the callback options
 * begin with the `fallback` flag. */
namespace v8 {
class CTypeInfo {
 public:
  enum class Type : uint8_t { kVoid, kBool, kUint8, kInt32, kUint32, kInt64, kUint64, kFloat32, kFloat64, kPointer, kV8Value };
  constexpr explicit CTypeInfo(Type t) : type_(t), sequence_(0), flags_(0) {}
  constexpr explicit CTypeInfo(uint8_t raw) : type_(static_cast<Type>(raw)), sequence_(0), flags_(0) {}

 private:
  Type type_;
  uint8_t sequence_;
  uint8_t flags_;
};
class V8_EXPORT CFunctionInfo {
 public:
  CFunctionInfo(const CTypeInfo& return_info, unsigned int arg_count, const CTypeInfo* arg_info);

 private:
  const CTypeInfo return_info_;
  const unsigned int arg_count_;
  const CTypeInfo* arg_info_;
};
class CFunction {
 public:
  const void* address;
  const CFunctionInfo* info;
};
}  // namespace v8
static_assert(sizeof(v8::CTypeInfo) == 3, "CTypeInfo is three bytes in V8 11.3");
static_assert(sizeof(v8::CFunctionInfo) == 16, "CFunctionInfo: return info, count, args");
struct FastOptions {
  bool fallback; /* first member of v8::FastApiCallbackOptions; the rest is not touched */
};
static const uint8_t kCallbackOptionsType = 255;
#endif

static_assert(sizeof(napi_value) == sizeof(v8::Local<v8::Value>), "napi_value is a v8::Local in node");

namespace {

/* Handles: generation * 2^24 + slot index, a double-exact integer; generation >= 1. */
constexpr double kSlotBits = 16777216.0; /* 2^24 */
constexpr uint32_t kMaxSlots = 1u << 24;
constexpr double kMaxLength = 4294967296.0; /* 2^32 */
/* What the fast functions answer for what the checked ones throw on. */
constexpr int32_t kRefused = INT32_MIN;

struct Slot {
  uint8_t* data = nullptr;
  size_t len = 0;
  uint32_t gen = 1;
  bool live = false;
  std::shared_ptr<v8::BackingStore> store;
  v8::Global<v8::ArrayBuffer> object;
};

struct Table {
  std::vector<Slot> slots;
  std::vector<uint32_t> free;
  /* Stores of collected buffers, released outside GC. */
  std::vector<std::shared_ptr<v8::BackingStore>> retired;
  int users = 0;
  uint64_t fast_calls = 0;
};

/* initial-exec: read through %fs like libc's errno, with no __tls_get_addr call (a
 * pointer fits in the static TLS glibc keeps for modules loaded later). */
thread_local Table* table __attribute__((tls_model("initial-exec"))) = nullptr;

/* The slot a handle names, or null. */
HOT inline Slot* lookup(Table* t, double handle) {
  if (!t || !(handle >= kSlotBits && handle < 9007199254740992.0)) return nullptr;
  uint64_t h = static_cast<uint64_t>(handle);
  if (static_cast<double>(h) != handle) return nullptr;
  uint64_t index = h & (kMaxSlots - 1);
  if (index >= t->slots.size()) return nullptr;
  Slot* s = &t->slots[index];
  return s->live && s->gen == (h >> 24) ? s : nullptr;
}

inline bool is_u32(double d) { return d >= 0 && d <= 4294967295.0 && d == static_cast<double>(static_cast<uint32_t>(d)); }

/* The checked call: NULL and *result, or why it was refused (nothing done). */
HOT const char* elem(Table* t, double cmd, double handle, double attr_len, double mask, int32_t* result) {
  if (!is_u32(cmd) || cmd > 255) return "cmd must be an integer in [0, 255]";
  if (!is_u32(attr_len) || attr_len > 32) return "attrLen must be an integer in [0, 32]";
  if (!is_u32(mask)) return "ptrMask must be an integer in [0, 2^32 - 1]";
  Slot* s = lookup(t, handle);
  if (!s) return "handle does not name a live elemBuffer";
  return bpf_elem_call(static_cast<int>(cmd), s->data, s->len, static_cast<uint32_t>(attr_len), static_cast<uint32_t>(mask), result);
}

void throw_error(v8::Isolate* isolate, const char* msg, bool type) {
  v8::Local<v8::String> m = v8::String::NewFromUtf8(isolate, msg).ToLocalChecked();
  v8::Local<v8::Value> e = type ? v8::Exception::TypeError(m) : v8::Exception::RangeError(m);
  if (!type) {
    v8::Local<v8::Context> ctx = isolate->GetCurrentContext();
    if (e.As<v8::Object>()->Set(ctx, v8::String::NewFromUtf8Literal(isolate, "code"),
                                v8::String::NewFromUtf8Literal(isolate, "ERR_OUT_OF_RANGE")).IsNothing())
      return; /* an exception is pending already */
  }
  isolate->ThrowException(e);
}

void slow_elem(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  double a[4];
  for (int i = 0; i < 4; i++) {
    if (!info[i]->IsNumber()) return throw_error(isolate, "bpfElem(cmd, handle, attrLen, ptrMask): numbers", true);
    a[i] = info[i].As<v8::Number>()->Value();
  }
  int32_t r = 0;
  const char* why = elem(table, a[0], a[1], a[2], a[3], &r);
  if (why) return throw_error(isolate, why, false);
  info.GetReturnValue().Set(r);
}

/* bpfElemFast's slow twin (before optimisation, or for arguments that are not numbers): REFUSED instead of throwing. */
void slow_elem_fast(const v8::FunctionCallbackInfo<v8::Value>& info) {
  double a[4];
  for (int i = 0; i < 4; i++) {
    if (!info[i]->IsNumber()) return info.GetReturnValue().Set(kRefused);
    a[i] = info[i].As<v8::Number>()->Value();
  }
  int32_t r = 0;
  info.GetReturnValue().Set(elem(table, a[0], a[1], a[2], a[3], &r) ? kRefused : r);
}

/* close(fd) -> 0 | -errno (forgetting what was learnt about fd: native/fds.c). */
HOT const char* close_fd(double fd, int32_t* result) {
  if (!(fd >= 0 && fd <= 2147483647.0 && fd == static_cast<double>(static_cast<int32_t>(fd))))
    return "fd must be an integer in [0, 2147483647]";
  int r = static_cast<int>(raw_syscall3(__NR_close, static_cast<long>(fd), 0, 0));
  fds_forget(static_cast<int>(fd));
  *result = r;
  return nullptr;
}

void slow_close(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  if (!info[0]->IsNumber()) return throw_error(isolate, "fd must be a number", true);
  int32_t r = 0;
  const char* why = close_fd(info[0].As<v8::Number>()->Value(), &r);
  if (why) return throw_error(isolate, why, false);
  info.GetReturnValue().Set(r);
}

void slow_close_fast(const v8::FunctionCallbackInfo<v8::Value>& info) {
  int32_t r = 0;
  if (!info[0]->IsNumber() || close_fd(info[0].As<v8::Number>()->Value(), &r)) r = kRefused;
  info.GetReturnValue().Set(r);
}

#ifdef TSBPF_FAST_CALLS
HOT int32_t fast_close(v8::Local<v8::Value> receiver, double fd, FastOptions& options) {
  (void)receiver;
  (void)options;
  int32_t r = 0;
  return close_fd(fd, &r) ? kRefused : r;
}

HOT int32_t fast_elem(v8::Local<v8::Value> receiver, double cmd, double handle, double attr_len, double mask, FastOptions& options) {
  (void)receiver;
  (void)options;
  Table* t = table;
  int32_t r = 0;
  if (elem(t, cmd, handle, attr_len, mask, &r)) return kRefused; /* never the fallback: see the top */
  t->fast_calls++;
  return r;
}
#endif

void retire(const v8::WeakCallbackInfo<void>& info) {
  Table* t = table;
  uint32_t index = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(info.GetParameter()));
  if (!t || index >= t->slots.size()) return;
  Slot& s = t->slots[index];
  s.object.Reset();
  s.live = false;
  s.gen = s.gen >= (1u << 28) ? 1 : s.gen + 1;
  s.data = nullptr;
  s.len = 0;
  t->retired.push_back(std::move(s.store));
  t->free.push_back(index);
}

/* elemBuffer(length) -> { handle, buffer }: a zeroed buffer of length bytes (1..2^32). */
void elem_buffer(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  Table* t = table;
  if (!info[0]->IsNumber()) return throw_error(isolate, "elemBuffer(length): a number", true);
  double d = info[0].As<v8::Number>()->Value();
  if (!(d >= 1 && d <= kMaxLength && d == std::floor(d))) return throw_error(isolate, "length must be an integer in [1, 2^32]", false);
  t->retired.clear();
  if (t->free.empty() && t->slots.size() >= kMaxSlots) return throw_error(isolate, "too many live elemBuffers", false);
  /* calloc, not V8's allocator: V8 ends the process when it cannot allocate. */
  void* mem = calloc(1, static_cast<size_t>(d));
  if (!mem) return throw_error(isolate, "elemBuffer: out of memory", false);
  std::shared_ptr<v8::BackingStore> store = v8::ArrayBuffer::NewBackingStore(
      mem, static_cast<size_t>(d), [](void* data, size_t, void*) { free(data); }, nullptr);
  v8::Local<v8::ArrayBuffer> ab = v8::ArrayBuffer::New(isolate, store);
  uint32_t index;
  if (!t->free.empty()) {
    index = t->free.back();
    t->free.pop_back();
  } else {
    index = static_cast<uint32_t>(t->slots.size());
    t->slots.emplace_back();
  }
  Slot& s = t->slots[index];
  s.data = static_cast<uint8_t*>(store->Data());
  s.len = store->ByteLength();
  s.store = std::move(store);
  s.live = true;
  s.object.Reset(isolate, ab);
  s.object.SetWeak(reinterpret_cast<void*>(static_cast<uintptr_t>(index)), retire, v8::WeakCallbackType::kParameter);
  v8::Local<v8::Context> ctx = isolate->GetCurrentContext();
  v8::Local<v8::Object> out = v8::Object::New(isolate);
  double handle = static_cast<double>(s.gen) * kSlotBits + index;
  if (out->Set(ctx, v8::String::NewFromUtf8Literal(isolate, "handle"), v8::Number::New(isolate, handle)).IsNothing() ||
      out->Set(ctx, v8::String::NewFromUtf8Literal(isolate, "buffer"), ab).IsNothing())
    return; /* an exception is pending; the slot retires with the buffer */
  info.GetReturnValue().Set(out);
}

/* elemBufferOf(handle) -> the ArrayBuffer of a live handle, or undefined (the seam's
 * route from bpfElem to a replaced bpfIo). */
void elem_buffer_of(const v8::FunctionCallbackInfo<v8::Value>& info) {
  if (!info[0]->IsNumber()) return;
  Slot* s = lookup(table, info[0].As<v8::Number>()->Value());
  if (s) info.GetReturnValue().Set(s->object.Get(info.GetIsolate()));
}

/* fastCalls() -> how many bpfElem calls took the fast path on this thread. */
void fast_calls(const v8::FunctionCallbackInfo<v8::Value>& info) {
  info.GetReturnValue().Set(static_cast<double>(table ? table->fast_calls : 0));
}

void cleanup(void*) {
  Table* t = table;
  if (!t || --t->users > 0) return;
  for (Slot& s : t->slots) s.object.Reset();
  delete t;
  table = nullptr;
}

bool define(v8::Isolate* isolate, v8::Local<v8::Context> ctx, v8::Local<v8::Object> exports, const char* name,
            v8::FunctionCallback slow, int length, const void* cfunction) {
  v8::Local<v8::FunctionTemplate> tmpl = v8::FunctionTemplate::New(
      isolate, slow, v8::Local<v8::Value>(), v8::Local<v8::Signature>(), length, v8::ConstructorBehavior::kThrow,
      v8::SideEffectType::kHasSideEffect, static_cast<const v8::CFunction*>(cfunction));
  v8::Local<v8::Function> fn;
  if (!tmpl->GetFunction(ctx).ToLocal(&fn)) return false;
  v8::Local<v8::String> key = v8::String::NewFromUtf8(isolate, name).ToLocalChecked();
  fn->SetName(key);
  return exports->Set(ctx, key, fn).FromMaybe(false);
}

}  // namespace

extern "C" napi_value fast_init(napi_env env, napi_value exports) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  v8::Local<v8::Context> ctx = isolate->GetCurrentContext();
  v8::Local<v8::Value> value;
  memcpy(static_cast<void*>(&value), &exports, sizeof exports);
  v8::Local<v8::Object> obj = value.As<v8::Object>();
  if (!table) table = new Table();
  table->users++;
  if (napi_add_env_cleanup_hook(env, cleanup, nullptr) != napi_ok) return nullptr;

  const void* cfunction = nullptr;
  const void* close_cfunction = nullptr;
#ifdef TSBPF_FAST_CALLS
  using T = v8::CTypeInfo::Type;
  static const v8::CTypeInfo args[] = {v8::CTypeInfo(T::kV8Value), v8::CTypeInfo(T::kFloat64), v8::CTypeInfo(T::kFloat64),
                                       v8::CTypeInfo(T::kFloat64), v8::CTypeInfo(T::kFloat64), v8::CTypeInfo(kCallbackOptionsType)};
  static const v8::CTypeInfo ret(T::kInt32);
  static const v8::CFunctionInfo info(ret, sizeof args / sizeof args[0], args);
  static const v8::CFunction fn = {reinterpret_cast<const void*>(&fast_elem), &info};
  cfunction = &fn;
  static const v8::CTypeInfo close_args[] = {v8::CTypeInfo(T::kV8Value), v8::CTypeInfo(T::kFloat64), v8::CTypeInfo(kCallbackOptionsType)};
  static const v8::CFunctionInfo close_info(ret, sizeof close_args / sizeof close_args[0], close_args);
  static const v8::CFunction close_fn = {reinterpret_cast<const void*>(&fast_close), &close_info};
  close_cfunction = &close_fn;
#endif
  /* close replaces the Node-API one of native/addon.c (same checks and results). */
  if (!define(isolate, ctx, obj, "bpfElemFast", slow_elem_fast, 4, cfunction) ||
      !define(isolate, ctx, obj, "closeFast", slow_close_fast, 1, close_cfunction) ||
      !define(isolate, ctx, obj, "bpfElem", slow_elem, 4, nullptr) ||
      !define(isolate, ctx, obj, "close", slow_close, 1, nullptr) ||
      !define(isolate, ctx, obj, "elemBuffer", elem_buffer, 1, nullptr) ||
      !define(isolate, ctx, obj, "elemBufferOf", elem_buffer_of, 1, nullptr) ||
      !define(isolate, ctx, obj, "fastCalls", fast_calls, 0, nullptr))
    return nullptr;
  return exports;
}
