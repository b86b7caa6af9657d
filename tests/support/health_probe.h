#ifndef ROOTED_TESTS_SUPPORT_HEALTH_PROBE_H_
#define ROOTED_TESTS_SUPPORT_HEALTH_PROBE_H_

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <future>
#include <string>

namespace rooted::testing {

// What Kubernetes' gRPC probe asks: grpc.health.v1.Health/Check for
// `service`. True when the answer is SERVING. The two messages are written
// by hand (a string field 1; an enum field 1, SERVING = 1): no generated
// health stubs ship with Debian's gRPC.
inline bool IsServing(const std::string& target, const std::string& service) {
  grpc::GenericStub stub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  std::string request_bytes;
  if (!service.empty()) request_bytes = std::string(1, '\x0a') + char(service.size()) + service;
  grpc::Slice slice(request_bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status status) { done.set_value(std::move(status)); });
  if (!done.get_future().get().ok()) return false;
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return false;
  std::string bytes;
  for (const grpc::Slice& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return bytes == std::string("\x08\x01", 2);
}

}  // namespace rooted::testing

#endif  // ROOTED_TESTS_SUPPORT_HEALTH_PROBE_H_
