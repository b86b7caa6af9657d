#include "services/forum-scheduling/cases.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/base/ids.h"
#include "common/base/proto_date.h"
#include "common/base/proto_time.h"
#include "services/forum-scheduling/forum_rules.h"

namespace rooted::forum {
namespace cv1 = rooted::common::v1;
namespace {

// The deadline for a high-priority case listed today.
absl::CivilDay PriorityDeadline(const v1::Forum& forum, absl::Time now, absl::TimeZone zone) {
  const SchoolCalendar calendar = CalendarOf(forum);
  const absl::CivilDay today = absl::ToCivilDay(now, zone);
  if (std::optional<absl::CivilDay> day =
          calendar.AddSchoolDays(today, forum.priority_within_school_days())) {
    return *day;
  }
  // Past the calendar's last term: the last day of it, or today.
  return calendar.terms().empty() ? today : std::max(today, calendar.terms().back().last);
}

std::string WithinText(const v1::Forum& forum) {
  return absl::StrCat("heard within ", forum.priority_within_school_days(), " school days");
}

}  // namespace

v1::ForumCase NewCase(const v1::Forum& forum, const CaseSpec& spec, absl::Time now,
                      absl::TimeZone zone) {
  v1::ForumCase c;
  c.set_case_id(NewUuid());
  c.set_forum_id(forum.forum_id());
  c.set_referral_id(spec.referral_id);
  c.mutable_pupil_ref()->set_value(spec.pupil_ref);
  c.set_risk_band(spec.band);
  c.set_school_urn(spec.school_urn);
  *c.mutable_listed_at() = ToProtoTimestamp(now);
  c.set_status(v1::CASE_STATUS_OPEN);
  c.set_source(spec.source);
  if (spec.hear_by) {
    *c.mutable_hear_by() = ToProtoDate(*spec.hear_by);
    c.set_priority_reason("deadline set by the forum coordinator");
  } else if (spec.safeguarding_concern) {
    *c.mutable_hear_by() = ToProtoDate(PriorityDeadline(forum, now, zone));
    c.set_priority_reason(
        absl::StrCat("immediate safeguarding concern in the referral: ", WithinText(forum)));
  } else if (spec.band == cv1::RISK_BAND_VERY_HIGH) {
    *c.mutable_hear_by() = ToProtoDate(PriorityDeadline(forum, now, zone));
    c.set_priority_reason(absl::StrCat("very high risk band: ", WithinText(forum)));
  }
  return c;
}

bool ApplyRiskBand(const v1::Forum& forum, v1::ForumCase& c, cv1::RiskBand band, absl::Time now,
                   absl::TimeZone zone) {
  if (c.risk_band() == band) return false;
  c.set_risk_band(band);
  if (band == cv1::RISK_BAND_VERY_HIGH && !c.has_hear_by() && c.status() == v1::CASE_STATUS_OPEN) {
    *c.mutable_hear_by() = ToProtoDate(PriorityDeadline(forum, now, zone));
    c.set_priority_reason(absl::StrCat("risk band rose to very high: ", WithinText(forum)));
  }
  return true;
}

void AddCaseIndexes(const ForumStore& store, WriteBatch& batch, const v1::ForumCase& c) {
  if (c.status() == v1::CASE_STATUS_OPEN) {
    batch.commands.push_back({"SADD", store.OpenCasesKey(c.forum_id()), c.case_id()});
  } else {
    batch.commands.push_back({"SREM", store.OpenCasesKey(c.forum_id()), c.case_id()});
  }
  if (!c.referral_id().empty()) {
    batch.commands.push_back({"HSET", store.ReferralCaseKey(), c.referral_id(), c.case_id()});
  }
  if (!c.pupil_ref().value().empty()) {
    batch.commands.push_back({"SADD", store.CasesOfPupilKey(c.pupil_ref().value()), c.case_id()});
  }
}

std::string CaseStatusName(v1::CaseStatus status) {
  std::string name = v1::CaseStatus_Name(status);
  if (name.rfind("CASE_STATUS_", 0) == 0) name = name.substr(12);
  return absl::AsciiStrToLower(name);
}

}  // namespace rooted::forum
