// referral-intake: wiring only. Reads configuration, builds the store, the
// service and the case-timeline consumer on the shared runtime, serves until
// SIGTERM, then drains.

#include "common/base/config.h"
#include "common/base/status_macros.h"
#include "common/identity/pupil_ref.h"
#include "common/kafka/topics.h"
#include "common/server/service_core.h"
#include "common/server/service_runtime.h"
#include "services/referral-intake/case_timeline.h"
#include "services/referral-intake/casework_service.h"
#include "services/referral-intake/programme_service.h"
#include "services/referral-intake/referral_owners.h"
#include "services/referral-intake/referral_service.h"

namespace {

constexpr char kServiceName[] = "referral-intake";

absl::Status Run(const rooted::Config& config) {
  ASSIGN_OR_RETURN(rooted::ServiceSettings settings,
                   rooted::LoadServiceSettings(config, /*default_grpc_port=*/50051,
                                               /*default_metrics_port=*/9464));
  ASSIGN_OR_RETURN(std::string pupil_secret,
                   config.Secret("pupil-ref-secret", rooted::PupilRefHasher::kMinSecretBytes));
  rooted::referral::IntakeOptions options;
  options.sharing_agreement = config.String("sharing-agreement", "local-pilot");
  const std::string key_prefix = config.String("redis-key-prefix", "ri");
  const std::string group = config.String("consumer-group", kServiceName);
  RETURN_IF_ERROR(config.CheckAllFlagsUsed());
  ASSIGN_OR_RETURN(rooted::PupilRefHasher hasher, rooted::PupilRefHasher::Create(pupil_secret));

  ASSIGN_OR_RETURN(auto core, rooted::ServiceCore::Start(settings, kServiceName, key_prefix,
                                                         rooted::topics::kReferralEvents));
  rooted::referral::RedisReferralStore store(core->redis(), core->redis_pipe(), key_prefix);
  // Every other service's events, for each case's timeline. Intake's own are
  // filed with the changes that raise them.
  rooted::referral::CaseTimelineHandler timeline(core->redis(), store, key_prefix);
  std::vector<std::string> topics;
  for (absl::string_view topic : rooted::topics::kAll) {
    if (topic != rooted::topics::kSignals && topic != rooted::topics::kReferralEvents) topics.emplace_back(topic);
  }
  rooted::EventConsumerOptions consumer_options = core->ConsumerOptions(group, topics);
  consumer_options.max_batch = 500;
  ASSIGN_OR_RETURN(auto consumer, core->Consumer(consumer_options, timeline));
  rooted::referral::ReferralServiceImpl service(store, timeline, hasher, core->clock(),
                                                core->metrics(), options);
  rooted::referral::CaseworkStore casework_store(core->redis(), key_prefix);
  rooted::referral::CaseworkServiceImpl casework(casework_store, store, core->clock(),
                                                 {kServiceName, options.sharing_agreement});
  // Programmes: screening answers risk scoring's attendance evidence.
  rooted::referral::ProgrammeStore programme_store(core->redis(), key_prefix);
  rooted::referral::ProgrammeServiceImpl programmes(programme_store, store, core->clock(),
                                                    {kServiceName, options.sharing_agreement});
  rooted::referral::ScreeningHandler screening(programme_store, store, core->clock(), kServiceName);
  ASSIGN_OR_RETURN(auto screening_consumer,
                   core->Consumer(core->ConsumerOptions(group + "-screening",
                                                        {std::string(rooted::topics::kRiskEvents)}),
                                  screening));
  rooted::referral::ReferralOwners owners(store, casework_store);
  rooted::GuardedService referral_api("rooted.referral.v1.ReferralService",
                                      core->ServiceOptions(&owners, options.sharing_agreement));
  service.Bind(referral_api);
  rooted::GuardedService casework_api("rooted.referral.v1.CaseworkService",
                                      core->ServiceOptions(&owners, options.sharing_agreement));
  casework.Bind(casework_api);
  rooted::GuardedService programme_api("rooted.referral.v1.ProgrammeService",
                                       core->ServiceOptions(&owners, options.sharing_agreement));
  programmes.Bind(programme_api);
  return core->Serve({&referral_api, &casework_api, &programme_api},
                     {consumer.get(), screening_consumer.get()});
}

}  // namespace

int main(int argc, char** argv) { return rooted::ServiceMain(argc, argv, kServiceName, Run); }
