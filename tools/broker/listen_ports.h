#ifndef ROOTED_TOOLS_BROKER_LISTEN_PORTS_H_
#define ROOTED_TOOLS_BROKER_LISTEN_PORTS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"

namespace rooted::broker {

// The loopback ports the next mock brokers listen on, in the order they are
// made (broker 1 first). librdkafka 2.0.2's mock cluster binds every broker
// to 127.0.0.1 port 0 and offers no way to choose: a broker restarted for a
// local run came back on a new port, and no service found it again. So this
// tool defines bind() itself (listen_ports.cc): the linker resolves
// librdkafka's calls to it, and while ports are pending, a loopback bind to
// port 0 takes the next one (with SO_REUSEADDR, so a restart right after a
// stop is not refused for the old sockets in TIME_WAIT). Every other bind
// passes through unchanged. FAILED_PRECONDITION naming the port when one is
// in use: the mock cluster cannot report that itself (librdkafka 2.0.2
// aborts on a failed bind).
absl::Status ListenOnPorts(const std::vector<uint16_t>& ports);

// How many of the ports given are still to be taken.
size_t PendingListenPorts();

}  // namespace rooted::broker

#endif  // ROOTED_TOOLS_BROKER_LISTEN_PORTS_H_
