#ifndef ROOTED_COMMON_REDIS_AUDIT_TRAIL_H_
#define ROOTED_COMMON_REDIS_AUDIT_TRAIL_H_

#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/auth/principal.h"

namespace rooted {

// An audit-trail entry: who saw or changed which record, why, under which
// information-sharing agreement. Holds staff identities and record ids,
// never a child's details.
struct AuditEntry {
  absl::Time at;
  std::string actor_subject;
  std::string actor_role;
  std::string actor_organisation;
  // The council the actor works with (the token's `la`): whose officer may read the entry.
  std::string council;
  std::string action;       // the RPC, e.g. "GetReferral"
  std::string record_kind;  // "referral", "forum_case", "meeting"...
  std::string record_id;
  std::string purpose;
  std::string agreement;
  std::string request_id;
  // "OK", or the code the call was refused or failed with.
  std::string outcome = "OK";
  // The pupils whose records the call read or changed, by reference.
  std::vector<std::string> pupil_refs;
};

// The entry for `who` doing `action`, stamped `at`; the rest is filled by the caller.
AuditEntry AuditOf(const Principal& who, absl::string_view action, absl::Time at);

// The XADD that appends `entry` to a service's audit stream: put it in the
// same WriteBatch as the change it records.
std::vector<std::string> AuditAppendCommand(const std::string& stream_key, const AuditEntry& entry);

class PipelinedRedis;

// Where the shared RPC path writes the audit entries it owes (reads of
// personal data, and refused calls). Append-only: nothing here changes or
// deletes an entry. Thread safety: Append may be called from any thread.
class AuditSink {
 public:
  virtual ~AuditSink() = default;
  // Calls `done` once the entry is stored (OK) or could not be.
  virtual void Append(const AuditEntry& entry, absl::AnyInvocable<void(absl::Status) &&> done) = 0;
};

// A service's audit stream in its own Redis ("<prefix>:audit"), written on
// the pipelined connection so no thread waits for it.
class RedisAuditTrail final : public AuditSink {
 public:
  RedisAuditTrail(PipelinedRedis& redis, std::string stream_key)
      : redis_(redis), stream_key_(std::move(stream_key)) {}
  void Append(const AuditEntry& entry, absl::AnyInvocable<void(absl::Status) &&> done) override;

 private:
  PipelinedRedis& redis_;
  const std::string stream_key_;
};

}  // namespace rooted

#endif  // ROOTED_COMMON_REDIS_AUDIT_TRAIL_H_
