#ifndef ROOTED_SERVICES_FORUM_SCHEDULING_FORUM_SERVICE_H_
#define ROOTED_SERVICES_FORUM_SCHEDULING_FORUM_SERVICE_H_

#include <prometheus/counter.h>

#include <string>

#include "absl/status/statusor.h"
#include "common/auth/principal.h"
#include "common/base/clock.h"
#include "common/base/metrics.h"
#include "common/server/rpc_guard.h"
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

// Who may do what at a forum:
// - the council that runs it (its officers and forum coordinators), and the
//   forum's own chair and coordinator, run it: meetings, cases, attendance,
//   decisions and actions;
// - member organisations see its calendar and their agenda pack: a school
//   sees its own pupils' cases in full and others redacted; a partner sees
//   only the cases allocated to it; a council team (social care, early
//   help) sees the pack in full;
// - an action's owner organisation completes it.
class ForumServiceImpl final : public v1::ForumService::Service {
 public:
  ForumServiceImpl(ForumStore& store, const RpcGuard& guard, const Clock& clock, Metrics& metrics,
                   ForumServiceOptions options);

  grpc::Status CreateForum(grpc::ServerContext*, const v1::CreateForumRequest*,
                           v1::CreateForumResponse*) override;
  grpc::Status GetForum(grpc::ServerContext*, const v1::GetForumRequest*,
                        v1::GetForumResponse*) override;
  grpc::Status ListMeetings(grpc::ServerContext*, const v1::ListMeetingsRequest*,
                            v1::ListMeetingsResponse*) override;
  grpc::Status CancelMeeting(grpc::ServerContext*, const v1::CancelMeetingRequest*,
                             v1::CancelMeetingResponse*) override;
  grpc::Status MoveMeeting(grpc::ServerContext*, const v1::MoveMeetingRequest*,
                           v1::MoveMeetingResponse*) override;
  grpc::Status ListCase(grpc::ServerContext*, const v1::ListCaseRequest*,
                        v1::ListCaseResponse*) override;
  grpc::Status ListCases(grpc::ServerContext*, const v1::ListCasesRequest*,
                         v1::ListCasesResponse*) override;
  grpc::Status GetAgenda(grpc::ServerContext*, const v1::GetAgendaRequest*,
                         v1::GetAgendaResponse*) override;
  grpc::Status RecordAttendance(grpc::ServerContext*, const v1::RecordAttendanceRequest*,
                                v1::RecordAttendanceResponse*) override;
  grpc::Status RecordDecision(grpc::ServerContext*, const v1::RecordDecisionRequest*,
                              v1::RecordDecisionResponse*) override;
  grpc::Status AssignAction(grpc::ServerContext*, const v1::AssignActionRequest*,
                            v1::AssignActionResponse*) override;
  grpc::Status CompleteAction(grpc::ServerContext*, const v1::CompleteActionRequest*,
                              v1::CompleteActionResponse*) override;
  grpc::Status ListOverdueActions(grpc::ServerContext*, const v1::ListOverdueActionsRequest*,
                                  v1::ListOverdueActionsResponse*) override;
  grpc::Status ExportCalendar(grpc::ServerContext*, const v1::ExportCalendarRequest*,
                              v1::ExportCalendarResponse*) override;

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
  AuditEntry Audit(const Principal& who, absl::string_view action, absl::string_view kind,
                   const std::string& id, const std::string& request_id) const;

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
  const RpcGuard& guard_;
  const Clock& clock_;
  prometheus::Family<prometheus::Counter>& decisions_;
  prometheus::Family<prometheus::Counter>& overdue_;
  const ForumServiceOptions options_;
};

}  // namespace rooted::forum

#endif  // ROOTED_SERVICES_FORUM_SCHEDULING_FORUM_SERVICE_H_
