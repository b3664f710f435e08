/* Readiness of descriptors, for event readers:
 *   epollCreate() -> fd | -errno
 *   epollCtl(epfd, op, fd, events, data) -> 0 | -errno       (data: a u32 handed back)
 *   epollWait(epfd, out: Uint32Array, timeoutMs) -> n | -errno (the data of n ready fds)
 *   watch(fd, callback) -> Watch | -errno   callback() runs on the event loop whenever fd
 *                                           is readable; the watch keeps the loop alive
 *   unwatch(watch) -> 0                     idempotent
 *
 * A watch owns a duplicate of fd: libuv aborts the process when a descriptor it polls is
 * closed under it, and JS may close the original at any time. The duplicate refers to
 * the same open file (the epoll instance or map), so readiness is the same. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <uv.h>
#include "common.h"

#define WAIT_MAX 64

static napi_value js_epoll_create(napi_env env, napi_callback_info info) {
  (void)info;
  int fd = epoll_create1(EPOLL_CLOEXEC);
  return make_int(env, fd < 0 ? -errno : fd);
}

static napi_value js_epoll_ctl(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  size_t argc = 5;
  int64_t epfd, op, fd, events, data;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) THROW_TYPE(env, "epollCtl(epfd, op, fd, events, data)");
  if (!arg_int64(env, argv[0], 0, INT32_MAX, &epfd, "epfd")) return NULL;
  if (!arg_int64(env, argv[1], EPOLL_CTL_ADD, EPOLL_CTL_MOD, &op, "op")) return NULL;
  if (!arg_int64(env, argv[2], 0, INT32_MAX, &fd, "fd")) return NULL;
  if (!arg_int64(env, argv[3], 0, UINT32_MAX, &events, "events")) return NULL;
  if (!arg_int64(env, argv[4], 0, UINT32_MAX, &data, "data")) return NULL;
  struct epoll_event ev = {.events = (uint32_t)events, .data.u32 = (uint32_t)data};
  return make_int(env, epoll_ctl((int)epfd, (int)op, (int)fd, &ev) == 0 ? 0 : -errno);
}

static napi_value js_epoll_wait(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  size_t argc = 3;
  int64_t epfd, timeout;
  void *out;
  size_t len;
  napi_typedarray_type type;
  size_t count;
  napi_value ab;
  size_t offset;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) THROW_TYPE(env, "epollWait(epfd, out, timeoutMs)");
  if (!arg_int64(env, argv[0], 0, INT32_MAX, &epfd, "epfd")) return NULL;
  if (napi_get_typedarray_info(env, argv[1], &type, &count, &out, &ab, &offset) != napi_ok || type != napi_uint32_array)
    THROW_TYPE(env, "out must be a Uint32Array");
  if (!arg_int64(env, argv[2], -1, INT32_MAX, &timeout, "timeoutMs")) return NULL;
  len = out ? count : 0;
  if (len == 0) THROW_RANGE(env, "out must hold at least one element");
  if (len > WAIT_MAX) len = WAIT_MAX;
  struct epoll_event evs[WAIT_MAX];
  int n;
  do n = epoll_wait((int)epfd, evs, (int)len, (int)timeout); while (n < 0 && errno == EINTR && timeout == 0);
  if (n < 0) return make_int(env, -errno);
  /* Written after the wait: JS cannot run during it, so out is still the array checked. */
  for (int i = 0; i < n; i++) ((uint32_t *)out)[i] = evs[i].data.u32;
  return make_int(env, n);
}

struct watch {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_ref self;    /* strong while watching: the watch lives as long as it can fire */
  int fd;           /* the duplicate polled */
  bool stopped;
  bool wrapped;     /* the JS object's finalizer still holds a pointer */
};

static const napi_type_tag watch_tag = {0x74736270662d7761ULL, 0x7463682d706f6c6cULL};

static void watch_free_if_done(struct watch *w) {
  if (w->stopped && !w->wrapped && w->fd < 0) free(w);
}

static void on_closed(uv_handle_t *h) {
  struct watch *w = h->data;
  close(w->fd);
  w->fd = -1;
  watch_free_if_done(w);
}

static void watch_stop(struct watch *w) {
  if (w->stopped) return;
  w->stopped = true;
  uv_poll_stop(&w->poll);
  uv_close((uv_handle_t *)&w->poll, on_closed);
  if (w->callback) napi_delete_reference(w->env, w->callback);
  w->callback = NULL;
  if (w->self) napi_delete_reference(w->env, w->self);
  w->self = NULL;
}

static void on_ready(uv_poll_t *h, int status, int events) {
  (void)status; (void)events;
  struct watch *w = h->data;
  if (w->stopped || !w->callback) return;
  napi_env env = w->env;
  napi_handle_scope scope;
  napi_value cb, recv, res, resource, name;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  if (napi_get_reference_value(env, w->callback, &cb) == napi_ok && cb) {
    napi_get_global(env, &recv); /* make_callback wants an object */
    napi_create_object(env, &resource);
    napi_create_string_utf8(env, "tsbpf.watch", NAPI_AUTO_LENGTH, &name);
    napi_async_context ctx;
    if (napi_async_init(env, resource, name, &ctx) == napi_ok) {
      /* make_callback runs the microtasks after the call, as an I/O callback would. An
       * exception goes to process 'uncaughtException' like any event callback's. */
      if (napi_make_callback(env, ctx, recv, cb, 0, NULL, &res) == napi_pending_exception) {
        napi_value e;
        napi_get_and_clear_last_exception(env, &e);
        napi_fatal_exception(env, e);
      }
      napi_async_destroy(env, ctx);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void watch_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  struct watch *w = data;
  w->wrapped = false;
  watch_stop(w);
  watch_free_if_done(w);
}

static napi_value js_watch(napi_env env, napi_callback_info info) {
  napi_value argv[2], obj;
  size_t argc = 2;
  int64_t fd;
  napi_valuetype t;
  uv_loop_t *loop;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) THROW_TYPE(env, "watch(fd, callback)");
  if (!arg_int64(env, argv[0], 0, INT32_MAX, &fd, "fd")) return NULL;
  napi_typeof(env, argv[1], &t);
  if (t != napi_function) THROW_TYPE(env, "callback must be a function");
  CHECK_NAPI(env, napi_get_uv_event_loop(env, &loop));
  int dup = fcntl((int)fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return make_int(env, -errno);
  struct watch *w = calloc(1, sizeof *w);
  if (!w) { close(dup); return make_int(env, -ENOMEM); }
  w->env = env;
  w->fd = dup;
  w->poll.data = w;
  /* uv_poll_init refuses what epoll cannot watch (a regular file: EPERM). */
  int r = uv_poll_init(loop, &w->poll, dup);
  if (r < 0) {
    close(dup);
    free(w);
    return make_int(env, r);
  }
  if (napi_create_object(env, &obj) != napi_ok || napi_type_tag_object(env, obj, &watch_tag) != napi_ok ||
      napi_create_reference(env, argv[1], 1, &w->callback) != napi_ok ||
      napi_create_reference(env, obj, 1, &w->self) != napi_ok ||
      napi_wrap(env, obj, w, watch_finalize, NULL, NULL) != napi_ok) {
    w->stopped = true;
    if (w->callback) napi_delete_reference(env, w->callback);
    if (w->self) napi_delete_reference(env, w->self);
    uv_close((uv_handle_t *)&w->poll, on_closed);
    napi_throw_error(env, "ERR_TSBPF_NATIVE", "cannot make a watch");
    return NULL;
  }
  w->wrapped = true;
  r = uv_poll_start(&w->poll, UV_READABLE, on_ready);
  if (r < 0) {
    watch_stop(w);
    return make_int(env, r);
  }
  return obj;
}

static napi_value js_unwatch(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  napi_valuetype t;
  bool ok = false;
  void *data;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) THROW_TYPE(env, "unwatch(watch)");
  napi_typeof(env, argv[0], &t);
  if (t != napi_object || napi_check_object_type_tag(env, argv[0], &watch_tag, &ok) != napi_ok || !ok)
    THROW_TYPE(env, "unwatch takes a watch returned by watch()");
  if (napi_unwrap(env, argv[0], &data) != napi_ok) THROW_TYPE(env, "not a watch");
  watch_stop(data);
  return make_int(env, 0);
}

napi_value poll_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"epollCreate", NULL, js_epoll_create, NULL, NULL, NULL, napi_enumerable, NULL},
    {"epollCtl", NULL, js_epoll_ctl, NULL, NULL, NULL, napi_enumerable, NULL},
    {"epollWait", NULL, js_epoll_wait, NULL, NULL, NULL, napi_enumerable, NULL},
    {"watch", NULL, js_watch, NULL, NULL, NULL, napi_enumerable, NULL},
    {"unwatch", NULL, js_unwatch, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK_NAPI(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}
