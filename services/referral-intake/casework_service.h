#ifndef ROOTED_SERVICES_REFERRAL_INTAKE_CASEWORK_SERVICE_H_
#define ROOTED_SERVICES_REFERRAL_INTAKE_CASEWORK_SERVICE_H_

#include <string>

#include "common/base/clock.h"
#include "common/redis/record_store.h"
#include "common/server/guarded_service.h"
#include "rooted/referral/v1/casework.grpc.pb.h"
#include "services/referral-intake/intake_options.h"
#include "services/referral-intake/referral_store.h"

namespace rooted::referral {

// The programme leads' side of a case, beside the referral in referral
// intake's Redis (same prefix, outbox and audit trail):
//   <p>:casework:<referral id>        Casework
//   <p>:lead:<la>|<partner>|<subject>  LeadCaseload
//   <p>:leads                          set of "<la>|<partner>|<subject>"
class CaseworkStore : public RecordStore {
 public:
  using RecordStore::RecordStore;
  std::string CaseworkKey(const std::string& referral_id) const { return Key("casework:", referral_id); }
  std::string LeadKey(const std::string& la_code, const std::string& partner_id, const std::string& subject) const {
    return LeadKeyOf(LeadMember(la_code, partner_id, subject));
  }
  std::string LeadKeyOf(const std::string& member) const { return Key("lead:", member); }
  std::string LeadsKey() const { return prefix() + ":leads"; }
  static std::string LeadMember(const std::string& la_code, const std::string& partner_id,
                                const std::string& subject) {
    return la_code + "|" + partner_id + "|" + subject;
  }
};

// Who may do what:
//   coordinators (council officers and forum coordinators of the case's
//   council) set caseload limits, allocate and move cases, read all casework;
//   the allocated lead records contacts, goals, progress and feedback;
//   the lead's organisation reads its cases' casework and nobody else's;
//   schools see the referral, not the lead's notes.
class CaseworkServiceImpl final {
 public:
  // Binds every RPC of CaseworkService to its handler here.
  void Bind(GuardedService& service);

  CaseworkServiceImpl(CaseworkStore& store, ReferralStore& referrals, const Clock& clock,
                      IntakeOptions options = {});

  absl::Status SetLeadCapacity(const Principal& who, const v1::SetLeadCapacityRequest* request,
                               v1::SetLeadCapacityResponse* response);
  absl::Status AllocateLead(const Principal& who, const v1::AllocateLeadRequest* request,
                            v1::AllocateLeadResponse* response);
  absl::Status ListCaseloads(const Principal& who, const v1::ListCaseloadsRequest* request,
                             v1::ListCaseloadsResponse* response);
  absl::Status RecordContact(const Principal& who, const v1::RecordContactRequest* request,
                             v1::RecordContactResponse* response);
  absl::Status SetGoal(const Principal& who, const v1::SetGoalRequest* request,
                       v1::SetGoalResponse* response);
  absl::Status RecordGoalProgress(const Principal& who,
                                  const v1::RecordGoalProgressRequest* request,
                                  v1::RecordGoalProgressResponse* response);
  absl::Status RecordFeedback(const Principal& who, const v1::RecordFeedbackRequest* request,
                              v1::RecordFeedbackResponse* response);
  absl::Status GetCasework(const Principal& who, const v1::GetCaseworkRequest* request,
                           v1::GetCaseworkResponse* response);

 private:
  // One read-check-write of an allocation; ABORTED when a record it read
  // changed before its write.
  absl::Status AllocateLeadOnce(const Principal& who, const v1::AllocateLeadRequest* request,
                                v1::AllocateLeadResponse* response);
  // Loads the case's casework for its allocated lead to change, with
  // `change` applied, committed idempotently and audited.
  template <typename Request, typename Response>
  absl::Status ChangeAsLead(const Principal& who, absl::string_view method, const Request& request,
                            Response* response,
                            const std::function<absl::Status(v1::Casework&, const Principal&)>& change);
  absl::Status RequireCoordinator(const Principal& who, const std::string& la_code, absl::string_view method) const;
  // The open cases among `referral_ids` (closed and withdrawn ones free a place).
  absl::StatusOr<std::vector<std::string>> OpenCases(const google::protobuf::RepeatedPtrField<std::string>& ids,
                                                     const std::string& except);
  AuditEntry Audit(const Principal& who, absl::string_view action, const std::string& referral_id,
                   const std::string& request_id) const;

  CaseworkStore& store_;
  ReferralStore& referrals_;
  const Clock& clock_;
  const IntakeOptions options_;
};

}  // namespace rooted::referral

#endif  // ROOTED_SERVICES_REFERRAL_INTAKE_CASEWORK_SERVICE_H_
