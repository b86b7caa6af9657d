#ifndef ROOTED_COMMON_REDIS_AUDIT_TRAIL_H_
#define ROOTED_COMMON_REDIS_AUDIT_TRAIL_H_

#include <string>
#include <vector>

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
  std::string action;       // the RPC, e.g. "GetReferral"
  std::string record_kind;  // "referral", "forum_case", "meeting"...
  std::string record_id;
  std::string purpose;
  std::string agreement;
  std::string request_id;
};

// The entry for `who` doing `action`, stamped `at`; the rest is filled by the caller.
AuditEntry AuditOf(const Principal& who, absl::string_view action, absl::Time at);

// The XADD that appends `entry` to a service's audit stream: put it in the
// same WriteBatch as the change it records.
std::vector<std::string> AuditAppendCommand(const std::string& stream_key, const AuditEntry& entry);

}  // namespace rooted

#endif  // ROOTED_COMMON_REDIS_AUDIT_TRAIL_H_
