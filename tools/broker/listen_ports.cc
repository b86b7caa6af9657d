#include "tools/broker/listen_ports.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <mutex>

#include "absl/strings/str_cat.h"

namespace rooted::broker {
namespace {

std::mutex& PortsMutex() {
  static std::mutex mu;
  return mu;
}

std::deque<uint16_t>& Pending() {
  static std::deque<uint16_t> ports;
  return ports;
}

}  // namespace

absl::Status ListenOnPorts(const std::vector<uint16_t>& ports) {
  for (const uint16_t port : ports) {
    const int probe = socket(AF_INET, SOCK_STREAM, 0);
    if (probe < 0) return absl::ErrnoToStatus(errno, "socket");
    const int reuse = 1;
    setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof(reuse));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    const bool taken =
        syscall(SYS_bind, probe, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0;
    const int bind_errno = errno;
    close(probe);
    if (taken) {
      return absl::FailedPreconditionError(
          absl::StrCat("port ", port, " on 127.0.0.1: ", std::strerror(bind_errno),
                       " (another broker running?)"));
    }
  }
  std::lock_guard<std::mutex> lock(PortsMutex());
  Pending().assign(ports.begin(), ports.end());
  return absl::OkStatus();
}

size_t PendingListenPorts() {
  std::lock_guard<std::mutex> lock(PortsMutex());
  return Pending().size();
}

}  // namespace rooted::broker

// Takes the place of libc's bind() in this executable (see listen_ports.h);
// the system call itself is made directly, so nothing is looked up at run time.
extern "C" int bind(int fd, const struct sockaddr* address, socklen_t length) {
  sockaddr_in chosen;
  // Exactly a sockaddr_in, as librdkafka passes it; anything longer passes
  // through, so the kernel never reads past the copy.
  if (address != nullptr && address->sa_family == AF_INET && length == sizeof(sockaddr_in)) {
    const auto* requested = reinterpret_cast<const sockaddr_in*>(address);
    if (requested->sin_port == 0 && requested->sin_addr.s_addr == htonl(INADDR_LOOPBACK)) {
      std::lock_guard<std::mutex> lock(rooted::broker::PortsMutex());
      auto& pending = rooted::broker::Pending();
      if (!pending.empty()) {
        chosen = *requested;
        chosen.sin_port = htons(pending.front());
        pending.pop_front();
        const int reuse = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof(reuse));
        address = reinterpret_cast<const sockaddr*>(&chosen);
      }
    }
  }
  return static_cast<int>(syscall(SYS_bind, fd, address, length));
}
