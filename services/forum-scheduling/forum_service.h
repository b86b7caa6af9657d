#ifndef ROOTED_SERVICES_FORUM_SCHEDULING_FORUM_SERVICE_H_
#define ROOTED_SERVICES_FORUM_SCHEDULING_FORUM_SERVICE_H_

#include <prometheus/counter.h>

#include <string>

#include "absl/status/statusor.h"
#include "common/auth/principal.h"
#include "common/base/clock.h"
#include "common/base/metrics.h"
#include "common/server/guarded_service.h"
#include "rooted/forum/v1/forum.grpc.pb.h"
#include "rooted/forum/v1/forum_events.pb.h"
#include "services/forum-scheduling/forum_store.h"

namespace rooted::forum {

namespace v1 = rooted::forum::v1;

struct ForumServiceOptions {
  std::string producer_name = "forum-scheduling";
  std::string sharing_agreement = "local-pilot";
  // Where the forums meet: cadence times are local to it.
  absl::TimeZone zone;
};

// Who holds the seats of a forum, for the access rules that name one
// ("forum") or one of its meetings ("meeting"), cases ("case") or actions
// ("action": also the action's owner organisation's).
class ForumOwners final : public RecordOwners {
 public:
  explicit ForumOwners(ForumStore& store) : store_(store) {}
  bool Keeps(absl::string_view kind) const override {
    return kind == "forum" || kind == "meeting" || kind == "case" || kind == "action";
  }
  absl::StatusOr<RecordOwner> OwnerOf(absl::string_view kind, const std::string& id) const override;

 private:
  ForumStore& store_;
};

// Who may do what at a forum:
// - the council that runs it (its officers and forum coordinators), and the
//   forum's own chair and coordinator, run it: meetings, cases, attendance,
//   decisions and actions;
// - member organisations see its calendar and their agenda pack: a school
//   sees its own pupils' cases in full and others redacted; a partner sees
//   only the cases allocated to it; a council team (social care, early
//   help) sees the pack in full;
// - an action's owner organisation completes it.
class ForumServiceImpl final {
 public:
  // Binds every RPC of ForumService to its handler here.
  void Bind(GuardedService& service);

  ForumServiceImpl(ForumStore& store, const Clock& clock, Metrics& metrics,
                   ForumServiceOptions options);

  absl::Status CreateForum(const Principal& who, const v1::CreateForumRequest* request,
                           v1::CreateForumResponse* response);
  absl::Status GetForum(const Principal& who, const v1::GetForumRequest* request,
                        v1::GetForumResponse* response);
  // The council's forums the caller may see (the rule has admitted the
  // caller; this only filters): all for its officers and coordinators, else
  // those where the caller holds a seat or, for a school, that serve it.
  absl::Status ListForums(const Principal& who, const v1::ListForumsRequest* request,
                          v1::ListForumsResponse* response);
  absl::Status ListMeetings(const Principal& who, const v1::ListMeetingsRequest* request,
                            v1::ListMeetingsResponse* response);
  absl::Status CancelMeeting(const Principal& who, const v1::CancelMeetingRequest* request,
                             v1::CancelMeetingResponse* response);
  absl::Status MoveMeeting(const Principal& who, const v1::MoveMeetingRequest* request,
                           v1::MoveMeetingResponse* response);
  absl::Status ListCase(const Principal& who, const v1::ListCaseRequest* request,
                        v1::ListCaseResponse* response);
  absl::Status ListCases(const Principal& who, const v1::ListCasesRequest* request,
                         v1::ListCasesResponse* response);
  absl::Status GetAgenda(const Principal& who, const v1::GetAgendaRequest* request,
                         v1::GetAgendaResponse* response);
  absl::Status RecordAttendance(const Principal& who, const v1::RecordAttendanceRequest* request,
                                v1::RecordAttendanceResponse* response);
  absl::Status RecordDecision(const Principal& who, const v1::RecordDecisionRequest* request,
                              v1::RecordDecisionResponse* response);
  absl::Status AssignAction(const Principal& who, const v1::AssignActionRequest* request,
                            v1::AssignActionResponse* response);
  absl::Status CompleteAction(const Principal& who, const v1::CompleteActionRequest* request,
                              v1::CompleteActionResponse* response);
  absl::Status ListOverdueActions(const Principal& who,
                                  const v1::ListOverdueActionsRequest* request,
                                  v1::ListOverdueActionsResponse* response);
  absl::Status ExportCalendar(const Principal& who, const v1::ExportCalendarRequest* request,
                              v1::ExportCalendarResponse* response);

  // Flags open actions past their due date as overdue, each once, with an
  // ActionOverdue event. Returns how many were flagged. Run periodically.
  absl::StatusOr<int> FlagOverdueActions();

 private:
  // The steps every command shares: a retry returns the first answer; the
  // batch carries the request-id guard and that answer; a lost race is ABORTED.
  template <typename Request, typename Response>
  absl::StatusOr<bool> Replayed(const Principal& who, absl::string_view method,
                                const Request& request, Response* response);
  template <typename Request>
  absl::Status CommitCommand(const Principal& who, absl::string_view method,
                             const Request& request, google::protobuf::Message* response,
                             WriteBatch batch);
  void AddEvent(WriteBatch& batch, const Principal& who, const std::string& key,
                const std::string& correlation_id, const std::string& causation_id,
                v1::ForumEvent event) const;
  // `pupil_ref`: the child the change is about, when there is one.
  AuditEntry Audit(const Principal& who, absl::string_view action, absl::string_view kind,
                   const std::string& id, const std::string& request_id,
                   const std::string& pupil_ref = "") const;

  absl::StatusOr<Versioned<v1::Forum>> LoadForum(const std::string& forum_id,
                                                 absl::string_view field);
  absl::StatusOr<std::vector<v1::Meeting>> LoadMeetings(const std::string& forum_id);
  absl::StatusOr<std::vector<v1::ForumCase>> LoadOpenCases(const std::string& forum_id);

  bool RunsForum(const Principal& who, const v1::Forum& forum) const;
  absl::Status RequireRunsForum(const Principal& who, const v1::Forum& forum,
                                absl::string_view method) const;
  absl::Status RequireSeesForum(const Principal& who, const v1::Forum& forum,
                                absl::string_view method) const;

  ForumStore& store_;
  const Clock& clock_;
  prometheus::Family<prometheus::Counter>& decisions_;
  prometheus::Family<prometheus::Counter>& overdue_;
  const ForumServiceOptions options_;
};

}  // namespace rooted::forum

#endif  // ROOTED_SERVICES_FORUM_SCHEDULING_FORUM_SERVICE_H_
