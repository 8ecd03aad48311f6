// netbind: opens an IPv4 UDP socket tied to one network interface, for the DHCP server. Node's
// dgram cannot set SO_BINDTODEVICE, and a socket bound to 0.0.0.0 hears broadcasts from every
// interface; so this sets the option *before* bind(2) (no packet from another interface is ever
// queued) and hands the bound descriptor to Node, which wraps it with dgram's bind({ fd }).
// On Linux 5.7 and later the first SO_BINDTODEVICE on a socket needs no capability; before 5.7
// it needs CAP_NET_RAW. Binding a port below 1024 needs CAP_NET_BIND_SERVICE (or root).
#define _GNU_SOURCE
#include <node_api.h>
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

// Throws an Error carrying errno and the failed step; returns NULL for the caller to return.
static napi_value throw_errno(napi_env env, int err, const char *syscall) {
  napi_value msg, error, code, step;
  char text[160];
  snprintf(text, sizeof text, "%s: %s", syscall, strerror(err));
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &error);
  napi_create_int32(env, err, &code);
  napi_set_named_property(env, error, "errno", code);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &step);
  napi_set_named_property(env, error, "syscall", step);
  napi_throw(env, error);
  return NULL;
}

static napi_value throw_type(napi_env env, const char *what) {
  napi_throw_type_error(env, NULL, what);
  return NULL;
}

// openUdp4(ifname: string, address: string, port: number, reuseAddr: boolean): number (the fd)
static napi_value open_udp4(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) return throw_type(env, "openUdp4(ifname, address, port, reuseAddr)");
  char ifname[IFNAMSIZ + 1];
  char address[INET_ADDRSTRLEN + 1];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[0], ifname, sizeof ifname, &len) != napi_ok) return throw_type(env, "ifname must be a string");
  if (len == 0 || len >= IFNAMSIZ) return throw_errno(env, ENODEV, "SO_BINDTODEVICE");
  if (napi_get_value_string_utf8(env, argv[1], address, sizeof address, &len) != napi_ok) return throw_type(env, "address must be a string");
  int32_t port = 0;
  if (napi_get_value_int32(env, argv[2], &port) != napi_ok || port < 0 || port > 65535) return throw_type(env, "port must be 0-65535");
  bool reuse = false;
  if (napi_get_value_bool(env, argv[3], &reuse) != napi_ok) return throw_type(env, "reuseAddr must be a boolean");

  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, address, &sa.sin_addr) != 1) return throw_errno(env, EINVAL, "inet_pton");

  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_UDP);
  if (fd < 0) return throw_errno(env, errno, "socket");
  int one = 1;
  const char *step = NULL;
  if (reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) step = "SO_REUSEADDR";
  else if (setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) < 0) step = "SO_BROADCAST";
  else if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname)) < 0) step = "SO_BINDTODEVICE";
  else if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) step = "bind";
  if (step) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, step);
  }
  napi_value out;
  napi_create_int32(env, fd, &out);
  return out;
}

// closeFd(fd: number): undefined; for a descriptor never handed to Node.
static napi_value close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) return throw_type(env, "closeFd(fd)");
  if (fd >= 0) close(fd);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "openUdp4", NAPI_AUTO_LENGTH, open_udp4, NULL, &fn);
  napi_set_named_property(env, exports, "openUdp4", fn);
  napi_create_function(env, "closeFd", NAPI_AUTO_LENGTH, close_fd, NULL, &fn);
  napi_set_named_property(env, exports, "closeFd", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
