#include "tests/support/redis_fault_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace rooted::testing {
namespace {

constexpr size_t kIncomplete = std::string::npos;

// The end of the RESP value that starts at `pos`, or kIncomplete.
size_t ValueEnd(absl::string_view bytes, size_t pos) {
  if (pos >= bytes.size()) return kIncomplete;
  const size_t line_end = bytes.find("\r\n", pos);
  if (line_end == absl::string_view::npos) return kIncomplete;
  const size_t after_line = line_end + 2;
  const char type = bytes[pos];
  int64_t count = 0;
  const bool sized = type == '$' || type == '=' || type == '!' || type == '*' || type == '~' ||
                     type == '>' || type == '%';
  if (!sized) return after_line;  // a simple value, or an inline command
  std::from_chars(bytes.data() + pos + 1, bytes.data() + line_end, count);
  if (count < 0) return after_line;  // a nil
  if (type == '$' || type == '=' || type == '!') {
    const size_t end = after_line + size_t(count) + 2;
    return end <= bytes.size() ? end : kIncomplete;
  }
  size_t at = after_line;
  const int64_t elements = type == '%' ? 2 * count : count;
  for (int64_t i = 0; i < elements; ++i) {
    at = ValueEnd(bytes, at);
    if (at == kIncomplete) return kIncomplete;
  }
  return at;
}

bool SendAll(int fd, absl::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(size_t(n));
  }
  return true;
}

// Appends what `fd` has to `buffer`; false once the peer is gone.
bool ReadSome(int fd, std::string& buffer) {
  char chunk[16 * 1024];
  const ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
  if (n <= 0) return false;
  buffer.append(chunk, size_t(n));
  return true;
}

int ConnectLoopback(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(uint16_t(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

}  // namespace

size_t WholeRespValue(absl::string_view bytes) {
  const size_t end = ValueEnd(bytes, 0);
  return end == kIncomplete ? 0 : end;
}

RedisFaultProxy::RedisFaultProxy(int upstream_port) : upstream_port_(upstream_port) {
  listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = 0;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (listener_ < 0 ||
      bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(listener_, 64) != 0 ||
      getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw std::runtime_error("redis fault proxy: cannot listen on loopback");
  }
  port_ = ntohs(address.sin_port);
  acceptor_ = std::thread([this] { Accept(); });
}

RedisFaultProxy::~RedisFaultProxy() {
  stopping_.store(true);
  shutdown(listener_, SHUT_RDWR);
  acceptor_.join();
  close(listener_);
  std::vector<std::thread> workers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const int fd : open_) shutdown(fd, SHUT_RDWR);
    workers.swap(workers_);
  }
  for (std::thread& worker : workers) worker.join();
}

void RedisFaultProxy::AnswerWith(std::string error) {
  std::lock_guard<std::mutex> lock(mu_);
  error_ = std::move(error);
}

std::string RedisFaultProxy::Fault() {
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

void RedisFaultProxy::Accept() {
  while (!stopping_.load()) {
    const int client = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;  // the listener shut down, or an aborted connection
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_.load()) {
      close(client);
      return;
    }
    open_.push_back(client);
    workers_.emplace_back([this, client] { Serve(client); });
  }
}

void RedisFaultProxy::Serve(int client) {
  const int upstream = ConnectLoopback(upstream_port_);
  if (upstream >= 0) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_.load()) shutdown(upstream, SHUT_RDWR);
    open_.push_back(upstream);
  }
  std::string commands;
  std::string replies;
  bool open = upstream >= 0;
  while (open && ReadSome(client, commands)) {
    while (open) {
      const size_t length = WholeRespValue(commands);
      if (length == 0) break;
      const std::string fault = Fault();
      if (!fault.empty()) {
        ++refused_;
        open = SendAll(client, "-" + fault + "\r\n");
      } else {
        open = SendAll(upstream, absl::string_view(commands).substr(0, length));
        size_t reply = 0;
        while (open && (reply = WholeRespValue(replies)) == 0) open = ReadSome(upstream, replies);
        if (open) open = SendAll(client, absl::string_view(replies).substr(0, reply));
        if (open) replies.erase(0, reply);
      }
      commands.erase(0, length);
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (const int fd : {client, upstream}) {
    if (fd < 0) continue;
    open_.erase(std::remove(open_.begin(), open_.end(), fd), open_.end());
    close(fd);
  }
}

}  // namespace rooted::testing
