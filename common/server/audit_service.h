#ifndef ROOTED_COMMON_SERVER_AUDIT_SERVICE_H_
#define ROOTED_COMMON_SERVER_AUDIT_SERVICE_H_

#include <string>

#include "absl/status/status.h"
#include "common/redis/redis_client.h"
#include "common/server/guarded_service.h"
#include "rooted/audit/v1/audit.pb.h"

namespace rooted {

// A service's own audit trail ("<prefix>:audit", a Redis stream written by
// the shared RPC path and by the handlers' atomic changes), read for the
// council's data protection officer. Every service serves it (ServiceCore
// adds it), so "who has looked at this child's record" is asked of all five.
// It only reads: nothing changes or deletes an entry.
class AuditServiceImpl final {
 public:
  AuditServiceImpl(RedisClient& redis, std::string stream_key, std::string service_name)
      : redis_(redis), stream_key_(std::move(stream_key)), service_name_(std::move(service_name)) {}

  // Binds every RPC of AuditService to its handler here.
  void Bind(GuardedService& service);

  // Scans forward from the page token (or `from`) in chunks, keeping what
  // the filters match, until the page is full, the period ends or a scan
  // budget is spent: a page may then be short, with a token to go on.
  absl::Status ListAuditEntries(const Principal& who,
                                const audit::v1::ListAuditEntriesRequest* request,
                                audit::v1::ListAuditEntriesResponse* response);

  // Entries read from Redis per round trip, and at most per call.
  static constexpr int kChunk = 256;
  static constexpr int kScanBudget = 20'000;

 private:
  RedisClient& redis_;
  const std::string stream_key_;
  const std::string service_name_;
};

}  // namespace rooted

#endif  // ROOTED_COMMON_SERVER_AUDIT_SERVICE_H_
