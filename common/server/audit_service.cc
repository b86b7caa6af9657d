#include "common/server/audit_service.h"

#include <algorithm>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/base/field_validation.h"
#include "common/base/proto_time.h"
#include "common/base/status_macros.h"
#include "common/identity/pupil_ref.h"

namespace rooted {
namespace av1 = rooted::audit::v1;
namespace {

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 500;

// A stream entry id, "<ms>-<sequence>": the only page tokens we hand out.
bool IsEntryId(absl::string_view text) {
  const std::vector<absl::string_view> parts = absl::StrSplit(text, '-');
  uint64_t number = 0;
  return parts.size() == 2 && absl::SimpleAtoi(parts[0], &number) &&
         absl::SimpleAtoi(parts[1], &number);
}

// One stream entry (its id, then its field/value pairs) as a record.
absl::StatusOr<av1::AuditRecord> ToRecord(const RedisReply& entry, const std::string& service) {
  if (entry.elements.size() != 2 || entry.elements[1].elements.size() % 2 != 0) {
    return absl::DataLossError("an audit entry is malformed");
  }
  av1::AuditRecord record;
  record.set_service(service);
  record.set_entry_id(entry.elements[0].str);
  record.set_outcome("OK");
  const std::vector<RedisReply>& fields = entry.elements[1].elements;
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    const std::string& name = fields[i].str;
    const std::string& value = fields[i + 1].str;
    if (name == "at") {
      absl::Time at;
      std::string error;
      if (absl::ParseTime(absl::RFC3339_full, value, &at, &error))
        *record.mutable_at() = ToProtoTimestamp(at);
    } else if (name == "actor") {
      record.set_actor_subject(value);
    } else if (name == "role") {
      record.set_actor_role(value);
    } else if (name == "org") {
      record.set_actor_organisation(value);
    } else if (name == "la") {
      record.set_council(value);
    } else if (name == "action") {
      record.set_action(value);
    } else if (name == "record_kind") {
      record.set_record_kind(value);
    } else if (name == "record_id") {
      record.set_record_id(value);
    } else if (name == "purpose") {
      record.set_purpose(value);
    } else if (name == "agreement") {
      record.set_agreement(value);
    } else if (name == "request_id") {
      record.set_request_id(value);
    } else if (name == "outcome") {
      record.set_outcome(value);
    } else if (name == "pupil_refs") {
      for (absl::string_view ref : absl::StrSplit(value, ',', absl::SkipEmpty())) {
        record.add_pupil_refs(std::string(ref));
      }
    }
  }
  return record;
}

bool Matches(const av1::AuditRecord& record, const av1::ListAuditEntriesRequest& request,
             const Principal& officer) {
  if (record.council() != officer.la_code) return false;
  if (!request.actor_subject().empty() && record.actor_subject() != request.actor_subject()) {
    return false;
  }
  const std::string& child = request.pupil_ref().value();
  return child.empty() || std::find(record.pupil_refs().begin(), record.pupil_refs().end(),
                                    child) != record.pupil_refs().end();
}

int64_t Millis(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000 + t.nanos() / 1'000'000;
}

}  // namespace

absl::Status AuditServiceImpl::ListAuditEntries(const Principal& who,
                                                const av1::ListAuditEntriesRequest* request,
                                                av1::ListAuditEntriesResponse* response) {
  const std::string& child = request->pupil_ref().value();
  if (request->has_pupil_ref() && !PupilRefHasher::LooksLikeRef(child)) {
    return FieldError("pupil_ref.value", "is not a pupil reference");
  }
  RETURN_IF_ERROR(ValidateText("actor_subject", request->actor_subject(), 200, false));
  RETURN_IF_ERROR(ValidateText("purpose", request->purpose(), 200, false));
  if (request->has_from() && request->has_to() &&
      Millis(request->from()) >= Millis(request->to())) {
    return FieldError("to", "must come after from");
  }
  const int page_size = request->page().page_size();
  if (page_size < 0 || page_size > kMaxPageSize) {
    return FieldError("page.page_size", absl::StrCat("must be 0 to ", kMaxPageSize));
  }
  const int wanted = page_size == 0 ? kDefaultPageSize : page_size;
  const std::string& token = request->page().page_token();
  if (!token.empty() && !IsEntryId(token)) {
    return FieldError("page.page_token", "is not one this service gave");
  }

  // Stream ids are the milliseconds at which entries were written.
  std::string start = !token.empty()        ? "(" + token
                      : request->has_from() ? std::to_string(Millis(request->from()))
                                            : "-";
  const std::string end =
      request->has_to() ? std::to_string(std::max<int64_t>(0, Millis(request->to()) - 1)) : "+";
  int scanned = 0;
  std::string last_seen;
  while (response->entries_size() < wanted && scanned < kScanBudget) {
    ASSIGN_OR_RETURN(RedisReply chunk, redis_.Command({"XRANGE", stream_key_, start, end, "COUNT",
                                                       std::to_string(kChunk)}));
    for (const RedisReply& entry : chunk.elements) {
      ++scanned;
      ASSIGN_OR_RETURN(av1::AuditRecord record, ToRecord(entry, service_name_));
      last_seen = record.entry_id();
      if (Matches(record, *request, who)) *response->add_entries() = std::move(record);
      if (response->entries_size() == wanted) break;
    }
    if (chunk.elements.size() < size_t(kChunk) && response->entries_size() < wanted) {
      return absl::OkStatus();  // the end of the trail, or of the period
    }
    start = "(" + last_seen;
  }
  response->set_next_page_token(last_seen);
  return absl::OkStatus();
}

void AuditServiceImpl::Bind(GuardedService& service) {
  service.Handle("ListAuditEntries", *this, &AuditServiceImpl::ListAuditEntries);
}

}  // namespace rooted
