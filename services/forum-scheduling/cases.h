#ifndef ROOTED_SERVICES_FORUM_SCHEDULING_CASES_H_
#define ROOTED_SERVICES_FORUM_SCHEDULING_CASES_H_

#include <optional>
#include <string>

#include "absl/time/time.h"
#include "common/redis/atomic_write.h"
#include "rooted/forum/v1/forum.pb.h"
#include "services/forum-scheduling/forum_store.h"

namespace rooted::forum {

namespace v1 = rooted::forum::v1;

// What a new case on a forum's queue starts from, whoever listed it.
struct CaseSpec {
  std::string referral_id;
  std::string pupil_ref;
  std::string school_urn;
  rooted::common::v1::RiskBand band = rooted::common::v1::RISK_BAND_UNSPECIFIED;
  // A deadline the coordinator set.
  std::optional<absl::CivilDay> hear_by;
  // The referrer named an immediate safeguarding concern.
  bool safeguarding_concern = false;
  v1::CaseSource source = v1::CASE_SOURCE_UNSPECIFIED;
};

// A new open case. High priority (a hear-by date and the reason for it) when
// the coordinator set a deadline, the pupil's risk band is very high, or the
// referral names an immediate safeguarding concern; the latter two are heard
// within the forum's priority_within_school_days.
v1::ForumCase NewCase(const v1::Forum& forum, const CaseSpec& spec, absl::Time now,
                      absl::TimeZone zone);

// Records a new risk band on a case; a case becoming very high gets a
// hear-by date if it had none. False when nothing changed.
bool ApplyRiskBand(const v1::Forum& forum, v1::ForumCase& c, rooted::common::v1::RiskBand band,
                   absl::Time now, absl::TimeZone zone);

// The index entries of a case: open-cases set (only while open), the
// referral's case, the pupil's cases. Add to the batch that writes the case.
void AddCaseIndexes(const ForumStore& store, WriteBatch& batch, const v1::ForumCase& c);

std::string CaseStatusName(v1::CaseStatus status);

}  // namespace rooted::forum

#endif  // ROOTED_SERVICES_FORUM_SCHEDULING_CASES_H_
