#ifndef ROOTED_SERVICES_DIRECTORY_TRIAGE_DIRECTORY_SERVICE_H_
#define ROOTED_SERVICES_DIRECTORY_TRIAGE_DIRECTORY_SERVICE_H_

#include "common/referrals/referral_facts.h"
#include "common/server/guarded_service.h"
#include "rooted/directory/v1/directory.grpc.pb.h"
#include "services/directory-triage/directory_core.h"

namespace rooted::directory {

// The directory's API. Who may do what:
// - council officers load, edit and approve anything, and run imports;
// - a partner edits only its own organisation and services (a partner's
//   edit sends the service back to QA as pending; live capacity updates do not);
// - anyone signed in searches, reads and exports published services;
// - school staff and council officers make service referrals for referrals
//   of their school or council whose families consented to it.
class DirectoryServiceImpl final {
 public:
  // Binds every RPC of DirectoryService to its handler here.
  void Bind(GuardedService& service);

  DirectoryServiceImpl(DirectoryCore& core, ReferralFactsKeeper& referrals)
      : core_(core), referrals_(referrals) {}

  absl::Status UpsertOrganization(const Principal& who,
                                  const v1::UpsertOrganizationRequest* request,
                                  v1::UpsertOrganizationResponse* response);
  absl::Status UpsertService(const Principal& who, const v1::UpsertServiceRequest* request,
                             v1::UpsertServiceResponse* response);
  absl::Status GetService(const Principal& who, const v1::GetServiceRequest* request,
                          v1::GetServiceResponse* response);
  absl::Status SearchServices(const Principal& who, const v1::SearchServicesRequest* request,
                              v1::SearchServicesResponse* response);
  absl::Status SetQualityAssurance(const Principal& who,
                                   const v1::SetQualityAssuranceRequest* request,
                                   v1::SetQualityAssuranceResponse* response);
  absl::Status ImportOpenReferral(const Principal& who,
                                  const v1::ImportOpenReferralRequest* request,
                                  v1::ImportOpenReferralResponse* response);
  absl::Status ExportOpenReferral(const Principal& who,
                                  const v1::ExportOpenReferralRequest* request,
                                  v1::ExportOpenReferralResponse* response);
  absl::Status WithdrawService(const Principal& who, const v1::WithdrawServiceRequest* request,
                               v1::WithdrawServiceResponse* response);
  absl::Status UpdateCapacity(const Principal& who, const v1::UpdateCapacityRequest* request,
                              v1::UpdateCapacityResponse* response);
  absl::Status MakeServiceReferral(const Principal& who,
                                   const v1::MakeServiceReferralRequest* request,
                                   v1::MakeServiceReferralResponse* response);
  absl::Status LoadPostcodeDistricts(const Principal& who,
                                     const v1::LoadPostcodeDistrictsRequest* request,
                                     v1::LoadPostcodeDistrictsResponse* response);
  absl::Status UpsertTaxonomyTerm(const Principal& who,
                                  const v1::UpsertTaxonomyTermRequest* request,
                                  v1::UpsertTaxonomyTermResponse* response);
  absl::Status ListTaxonomyTerms(const Principal& who, const v1::ListTaxonomyTermsRequest* request,
                                 v1::ListTaxonomyTermsResponse* response);

 private:
  template <typename Request>
  absl::StatusOr<bool> Replayed(const Principal& who, absl::string_view method,
                                const Request& request, google::protobuf::Message* response) {
    return core_.store().Replayed(who.subject, method, request.request_id(), request, response);
  }
  template <typename Request>
  absl::Status Commit(const Principal& who, absl::string_view method, const Request& request,
                      google::protobuf::Message* response, WriteBatch batch) {
    return core_.store().CommitCommand(who.subject, method, request.request_id(), request,
                                       response, std::move(batch));
  }
  // Loads a service for a change by its provider or the council.
  absl::StatusOr<Versioned<v1::Service>> ServiceToChange(const Principal& who,
                                                         const std::string& service_id,
                                                         absl::string_view method);
  absl::Status ImportChunk(const Principal& who, const std::string& request_id, size_t chunk,
                           const std::vector<const v1::Service*>& services);

  DirectoryCore& core_;
  ReferralFactsKeeper& referrals_;
};

}  // namespace rooted::directory

#endif  // ROOTED_SERVICES_DIRECTORY_TRIAGE_DIRECTORY_SERVICE_H_
