#ifndef ROOTED_SERVICES_FORUM_SCHEDULING_FORUM_STORE_H_
#define ROOTED_SERVICES_FORUM_SCHEDULING_FORUM_STORE_H_

#include <string>

#include "common/redis/record_store.h"

namespace rooted::forum {

using rooted::Versioned;

// Forum scheduling's keyspace in its own Redis: forums, meetings, cases and
// actions as records, with the indexes the RPCs and the planner read.
class ForumStore final : public RecordStore {
 public:
  using RecordStore::RecordStore;

  std::string ForumKey(const std::string& id) const { return Key("forum:", id); }
  std::string MeetingKey(const std::string& id) const { return Key("meeting:", id); }
  std::string CaseKey(const std::string& id) const { return Key("case:", id); }
  std::string ActionKey(const std::string& id) const { return Key("action:", id); }
  std::string DecisionKey(const std::string& id) const { return Key("decision:", id); }
  std::string ForumsOfCouncilKey(const std::string& la) const { return Key("forums:", la); }
  std::string MeetingsKey(const std::string& forum) const { return Key("meetings:", forum); }
  std::string OpenCasesKey(const std::string& forum) const { return Key("open_cases:", forum); }
  std::string CasesOfPupilKey(const std::string& ref) const { return Key("pupil_cases:", ref); }
  std::string DecisionsKey(const std::string& case_id) const { return Key("decisions:", case_id); }
  // Not-done actions of a forum, scored by due day (days since 1970).
  std::string ActionsKey(const std::string& forum) const { return Key("actions:", forum); }
  // Open actions not yet flagged overdue, scored by due day.
  std::string ActionsDueKey() const { return prefix() + ":actions_due"; }
  std::string SchoolForumKey() const { return prefix() + ":school_forum"; }    // urn -> forum
  std::string ReferralCaseKey() const { return prefix() + ":referral_case"; }  // referral -> case
  std::string PupilBandKey() const { return prefix() + ":pupil_band"; }        // ref -> band
};

}  // namespace rooted::forum

#endif  // ROOTED_SERVICES_FORUM_SCHEDULING_FORUM_STORE_H_
