#ifndef ROOTED_TESTS_REFERRAL_INTAKE_REFERRAL_SERVICES_STACK_H_
#define ROOTED_TESTS_REFERRAL_INTAKE_REFERRAL_SERVICES_STACK_H_

#include <memory>

#include "common/identity/pupil_ref.h"
#include "common/server/audit_service.h"
#include "common/server/service_runtime.h"
#include "rooted/audit/v1/audit.grpc.pb.h"
#include "services/referral-intake/case_timeline.h"
#include "services/referral-intake/casework_service.h"
#include "services/referral-intake/programme_service.h"
#include "services/referral-intake/referral_owners.h"
#include "services/referral-intake/referral_service.h"
#include "tests/support/service_harness.h"

namespace rooted::referral::testing {

// Referral intake's gRPC services in process over a real redis-server, as
// main() wires them: referrals, casework and programmes on one server, and
// the screening handler to feed risk scoring's answers to.
struct ReferralServicesStack {
  // `faulty_redis`: Redis is reached through h.fault_proxy.
  explicit ReferralServicesStack(bool faulty_redis = false)
      : h("referral-intake",
          absl::FromCivil(absl::CivilSecond(2026, 11, 23, 10, 0, 0), absl::UTCTimeZone()),
          faulty_redis) {
    store = std::make_unique<RedisReferralStore>(*h.redis, *h.redis_pipe, "ri");
    timeline = std::make_unique<CaseTimelineHandler>(*h.redis, *store, "ri");
    hasher = std::make_unique<PupilRefHasher>(*PupilRefHasher::Create(std::string(40, 'p')));
    referrals = std::make_unique<ReferralServiceImpl>(*store, *timeline, *hasher, h.clock,
                                                      *h.metrics, IntakeOptions{});
    casework_store = std::make_unique<CaseworkStore>(*h.redis, "ri");
    casework = std::make_unique<CaseworkServiceImpl>(*casework_store, *store, h.clock);
    programme_store = std::make_unique<ProgrammeStore>(*h.redis, "ri");
    programmes = std::make_unique<ProgrammeServiceImpl>(*programme_store, *store, h.clock);
    screening = std::make_unique<ScreeningHandler>(*programme_store, *store, h.clock, "referral-intake");
    owners = std::make_unique<ReferralOwners>(*store, *casework_store);
    referral_api = rooted::testing::Guarded("rooted.referral.v1.ReferralService", *referrals,
                                            h.ServiceOptions("ri", owners.get()));
    casework_api = rooted::testing::Guarded("rooted.referral.v1.CaseworkService", *casework,
                                            h.ServiceOptions("ri", owners.get()));
    programme_api = rooted::testing::Guarded("rooted.referral.v1.ProgrammeService", *programmes,
                                             h.ServiceOptions("ri", owners.get()));
    audit = std::make_unique<AuditServiceImpl>(*h.redis, "ri:audit", "referral-intake");
    audit_api =
        rooted::testing::Guarded("rooted.audit.v1.AuditService", *audit, h.ServiceOptions("ri"));
    server = *GrpcServer::Start(
        {.listen_address = "127.0.0.1:0", .service_names = {}},
        {referral_api.get(), casework_api.get(), programme_api.get(), audit_api.get()},
        {[this] { return h.redis->Ping(); }}, *h.logger);
    auto channel =
        grpc::CreateChannel("127.0.0.1:" + std::to_string(server->port()), grpc::InsecureChannelCredentials());
    referral_stub = v1::ReferralService::NewStub(channel);
    casework_stub = v1::CaseworkService::NewStub(channel);
    programme_stub = v1::ProgrammeService::NewStub(channel);
    audit_stub = rooted::audit::v1::AuditService::NewStub(channel);
  }
  ~ReferralServicesStack() { server->Shutdown(absl::Seconds(1)); }

  rooted::testing::ServiceHarness h;
  std::unique_ptr<RedisReferralStore> store;
  std::unique_ptr<CaseTimelineHandler> timeline;
  std::unique_ptr<PupilRefHasher> hasher;
  std::unique_ptr<ReferralServiceImpl> referrals;
  std::unique_ptr<CaseworkStore> casework_store;
  std::unique_ptr<CaseworkServiceImpl> casework;
  std::unique_ptr<ProgrammeStore> programme_store;
  std::unique_ptr<ProgrammeServiceImpl> programmes;
  std::unique_ptr<ScreeningHandler> screening;
  std::unique_ptr<ReferralOwners> owners;
  std::unique_ptr<GuardedService> referral_api;
  std::unique_ptr<GuardedService> casework_api;
  std::unique_ptr<GuardedService> programme_api;
  std::unique_ptr<AuditServiceImpl> audit;
  std::unique_ptr<GuardedService> audit_api;
  std::unique_ptr<GrpcServer> server;
  std::unique_ptr<v1::ReferralService::Stub> referral_stub;
  std::unique_ptr<v1::CaseworkService::Stub> casework_stub;
  std::unique_ptr<v1::ProgrammeService::Stub> programme_stub;
  std::unique_ptr<rooted::audit::v1::AuditService::Stub> audit_stub;
};

}  // namespace rooted::referral::testing

#endif  // ROOTED_TESTS_REFERRAL_INTAKE_REFERRAL_SERVICES_STACK_H_
