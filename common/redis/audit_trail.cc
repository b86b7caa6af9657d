#include "common/redis/audit_trail.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/redis/pipelined_redis.h"

namespace rooted {

AuditEntry AuditOf(const Principal& who, absl::string_view action, absl::Time at) {
  AuditEntry entry;
  entry.at = at;
  entry.actor_subject = who.subject;
  entry.actor_role = who.roles.empty() ? "" : RoleName(who.roles.front());
  entry.actor_organisation = OrganisationName(who.organisation_type, who.organisation_id);
  entry.council = who.la_code;
  entry.action = std::string(action);
  return entry;
}

std::vector<std::string> AuditAppendCommand(const std::string& stream_key, const AuditEntry& e) {
  std::vector<std::string> command = {
      "XADD",
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
      "la",
      e.council,
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
  // Left out when they say nothing: an entry without an outcome was OK. Every
  // argument costs the atomic writes that carry an entry.
  if (e.outcome != "OK") {
    command.push_back("outcome");
    command.push_back(e.outcome);
  }
  if (!e.pupil_refs.empty()) {
    command.push_back("pupil_refs");
    command.push_back(absl::StrJoin(e.pupil_refs, ","));
  }
  return command;
}

void RedisAuditTrail::Append(const AuditEntry& entry,
                             absl::AnyInvocable<void(absl::Status) &&> done) {
  redis_.Command(AuditAppendCommand(stream_key_, entry),
                 [done = std::move(done)](absl::StatusOr<RedisReply> reply) mutable {
                   std::move(done)(reply.ok() ? absl::OkStatus()
                                              : absl::UnavailableError(absl::StrCat(
                                                    "the audit trail could not be written: ",
                                                    reply.status().message())));
                 });
}

}  // namespace rooted
