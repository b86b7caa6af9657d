#include "common/redis/audit_trail.h"

namespace rooted {

AuditEntry AuditOf(const Principal& who, absl::string_view action, absl::Time at) {
  AuditEntry entry;
  entry.at = at;
  entry.actor_subject = who.subject;
  entry.actor_role = who.roles.empty() ? "" : RoleName(who.roles.front());
  entry.actor_organisation = OrganisationName(who.organisation_type, who.organisation_id);
  entry.action = std::string(action);
  return entry;
}

std::vector<std::string> AuditAppendCommand(const std::string& stream_key, const AuditEntry& e) {
  return {"XADD",
          stream_key,
          "*",
          "at",
          absl::FormatTime(absl::RFC3339_full, e.at, absl::UTCTimeZone()),
          "actor",
          e.actor_subject,
          "role",
          e.actor_role,
          "org",
          e.actor_organisation,
          "action",
          e.action,
          "record_kind",
          e.record_kind,
          "record_id",
          e.record_id,
          "purpose",
          e.purpose,
          "agreement",
          e.agreement,
          "request_id",
          e.request_id};
}

}  // namespace rooted
