#ifndef ROOTED_SERVICES_REFERRAL_INTAKE_REFERRAL_SERVICE_H_
#define ROOTED_SERVICES_REFERRAL_INTAKE_REFERRAL_SERVICE_H_

#include <string>

#include "common/base/clock.h"
#include "common/identity/pupil_ref.h"
#include "common/server/guarded_service.h"
#include "rooted/referral/v1/referral.grpc.pb.h"
#include "rooted/referral/v1/referral_events.pb.h"
#include "services/referral-intake/case_timeline.h"
#include "services/referral-intake/intake_options.h"
#include "services/referral-intake/referral_store.h"

namespace rooted::referral {

// The gRPC handlers of rooted.referral.v1.ReferralService: validate the
// request, authorise the caller, then change state through the store, which
// saves the referral with its event and audit entry in one step.
//
// Authorisation: school staff and leads act for their own school's pupils;
// council officers and forum coordinators for every school of their council;
// partners only for cases allocated to their organisation.
//
// SubmitReferral, the busiest call, uses gRPC's callback API: its write goes
// out on a shared pipelined Redis connection and the reply finishes the call,
// so no thread waits for Redis. It takes and answers raw bytes: it parses the
// request itself and answers with the very bytes it stored as its first
// answer, so the new referral is encoded once, not three times. The rarer
// calls block on Redis as before.
class ReferralServiceImpl final {
 public:
  // Binds every RPC of ReferralService to its handler here.
  void Bind(GuardedService& service);

  ReferralServiceImpl(ReferralStore& store, CaseTimelineReader& timeline,
                      const PupilRefHasher& hasher, const Clock& clock, Metrics& metrics,
                      IntakeOptions options);

  // Answers with the encoded SubmitReferralResponse, made from the stored record's bytes.
  void SubmitReferral(const Principal& who, v1::SubmitReferralRequest* request,
                      grpc::ByteBuffer* response, RpcCompletion done);
  absl::Status GetReferral(const Principal& who, const v1::GetReferralRequest* request,
                           v1::GetReferralResponse* response);
  absl::Status ListReferrals(const Principal& who, const v1::ListReferralsRequest* request,
                             v1::ListReferralsResponse* response);
  absl::Status UpdateReferral(const Principal& who, const v1::UpdateReferralRequest* request,
                              v1::UpdateReferralResponse* response);
  absl::Status WithdrawReferral(const Principal& who, const v1::WithdrawReferralRequest* request,
                                v1::WithdrawReferralResponse* response);
  absl::Status RecordConsent(const Principal& who, const v1::RecordConsentRequest* request,
                             v1::RecordConsentResponse* response);
  // The case's history from every service, for those who may read the referral.
  absl::Status GetCaseTimeline(const Principal& who, const v1::GetCaseTimelineRequest* request,
                               v1::GetCaseTimelineResponse* response);
  // Closes an open case with its outcome (CaseClosed feeds the outcome report).
  absl::Status CloseCase(const Principal& who, const v1::CloseCaseRequest* request,
                         v1::CloseCaseResponse* response);

 private:
  // One submission, from its request's arrival until it is answered.
  struct Submission {
    v1::SubmitReferralRequest request;
    // Of the request as it came, before its details moved into `referral`:
    // how a retry is told from another request under the same id.
    std::string fingerprint;
    v1::Referral referral;
    // The encoded SubmitReferralResponse, made from the stored record's bytes.
    std::string answer;
  };
  // Everything a submission does before its write: checks, the new referral
  // and the change that saves it.
  absl::StatusOr<ReferralChange> PrepareSubmit(const Principal& who, Submission& submission);
  // A submission whose referral was already there: answers a retry with
  // the first answer, or refuses another request under the same id.
  void AnswerRetriedSubmission(std::unique_ptr<Submission> submission, grpc::ByteBuffer* response,
                               RpcCompletion done);
  absl::Status DoGet(const Principal& who, const v1::GetReferralRequest& request,
                     v1::GetReferralResponse* response);
  absl::Status DoList(const Principal& who, const v1::ListReferralsRequest& request,
                      v1::ListReferralsResponse* response);

  // The shared path of every command on an existing referral: idempotency,
  // load, authorise, check it is open, apply `mutate`, commit with its event.
  // `event_for` builds the event the changed referral publishes.
  template <typename Request, typename Response, typename Mutate, typename EventFor>
  absl::Status ChangeReferral(const Principal& who, absl::string_view method,
                              const Request& request, Response* response, Mutate mutate,
                              EventFor event_for);
  // One read-change-write of it; ABORTED when the referral changed between.
  template <typename Request, typename Response, typename Mutate, typename EventFor>
  absl::Status ChangeReferralOnce(const Principal& who, absl::string_view method,
                                  const Request& request, Response* response,
                                  const std::string& key, Mutate& mutate, EventFor& event_for);

  // The change that saves `referral`, which must stay where it is until the
  // commit is done, with its event; the caller adds how a retry is known.
  ReferralChange BuildChange(const Principal& who, absl::string_view method, const std::string& request_id,
                             const v1::Referral& referral, v1::ReferralEvent event, int64_t expected_version) const;
  // What a commit's result means for the caller: OK with true when this call
  // committed, false when it replayed the first answer (into `response`).
  static absl::StatusOr<bool> AnswerCommit(absl::StatusOr<CommitResult> result,
                                           const google::protobuf::Message& request,
                                           google::protobuf::Message* response);

  absl::Status CanRead(const Principal& who, const v1::Referral& referral) const;
  absl::Status CanChange(const Principal& who, const v1::Referral& referral, absl::string_view method) const;
  AuditEntry Audit(const Principal& who, absl::string_view action, const std::string& referral_id,
                   const std::string& purpose, const std::string& request_id) const;

  ReferralStore& store_;
  CaseTimelineReader& timeline_;
  const PupilRefHasher& hasher_;
  const Clock& clock_;
  MetricHandles<prometheus::Counter> submitted_by_school_;
  const IntakeOptions options_;
};

}  // namespace rooted::referral

#endif  // ROOTED_SERVICES_REFERRAL_INTAKE_REFERRAL_SERVICE_H_
