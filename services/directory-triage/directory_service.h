#ifndef ROOTED_SERVICES_DIRECTORY_TRIAGE_DIRECTORY_SERVICE_H_
#define ROOTED_SERVICES_DIRECTORY_TRIAGE_DIRECTORY_SERVICE_H_

#include "common/server/rpc_guard.h"
#include "rooted/directory/v1/directory.grpc.pb.h"
#include "services/directory-triage/directory_core.h"

namespace rooted::directory {

// The directory's API. Who may do what:
// - council officers load, edit and approve anything, and run imports;
// - a partner edits only its own organisation and services (a partner's
//   edit sends the service back to QA as pending; live capacity updates do not);
// - anyone signed in searches, reads and exports published services;
// - school staff and council officers make service referrals for referrals
//   of their school or council.
class DirectoryServiceImpl final : public v1::DirectoryService::Service {
 public:
  DirectoryServiceImpl(DirectoryCore& core, const RpcGuard& guard) : core_(core), guard_(guard) {}

  grpc::Status UpsertOrganization(grpc::ServerContext*, const v1::UpsertOrganizationRequest*,
                                  v1::UpsertOrganizationResponse*) override;
  grpc::Status UpsertService(grpc::ServerContext*, const v1::UpsertServiceRequest*,
                             v1::UpsertServiceResponse*) override;
  grpc::Status GetService(grpc::ServerContext*, const v1::GetServiceRequest*,
                          v1::GetServiceResponse*) override;
  grpc::Status SearchServices(grpc::ServerContext*, const v1::SearchServicesRequest*,
                              v1::SearchServicesResponse*) override;
  grpc::Status SetQualityAssurance(grpc::ServerContext*, const v1::SetQualityAssuranceRequest*,
                                   v1::SetQualityAssuranceResponse*) override;
  grpc::Status ImportOpenReferral(grpc::ServerContext*, const v1::ImportOpenReferralRequest*,
                                  v1::ImportOpenReferralResponse*) override;
  grpc::Status ExportOpenReferral(grpc::ServerContext*, const v1::ExportOpenReferralRequest*,
                                  v1::ExportOpenReferralResponse*) override;
  grpc::Status WithdrawService(grpc::ServerContext*, const v1::WithdrawServiceRequest*,
                               v1::WithdrawServiceResponse*) override;
  grpc::Status UpdateCapacity(grpc::ServerContext*, const v1::UpdateCapacityRequest*,
                              v1::UpdateCapacityResponse*) override;
  grpc::Status MakeServiceReferral(grpc::ServerContext*, const v1::MakeServiceReferralRequest*,
                                   v1::MakeServiceReferralResponse*) override;
  grpc::Status LoadPostcodeDistricts(grpc::ServerContext*, const v1::LoadPostcodeDistrictsRequest*,
                                     v1::LoadPostcodeDistrictsResponse*) override;
  grpc::Status UpsertTaxonomyTerm(grpc::ServerContext*, const v1::UpsertTaxonomyTermRequest*,
                                  v1::UpsertTaxonomyTermResponse*) override;
  grpc::Status ListTaxonomyTerms(grpc::ServerContext*, const v1::ListTaxonomyTermsRequest*,
                                 v1::ListTaxonomyTermsResponse*) override;

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
  const RpcGuard& guard_;
};

}  // namespace rooted::directory

#endif  // ROOTED_SERVICES_DIRECTORY_TRIAGE_DIRECTORY_SERVICE_H_
