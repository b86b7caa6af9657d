// fund-payments: wiring only. The fund API over the ledger and its records,
// drafts from forum decisions, referrals' facts from referral events, the outbox relay to
// rooted.fund.events.v1, and the drain on SIGTERM.

#include "common/base/config.h"
#include "common/base/status_macros.h"
#include "common/kafka/topics.h"
#include "common/server/service_core.h"
#include "common/server/service_runtime.h"
#include "services/fund-payments/fund_event_handler.h"
#include "services/fund-payments/fund_service.h"

namespace {

constexpr char kServiceName[] = "fund-payments";

absl::Status Run(const rooted::Config& config) {
  ASSIGN_OR_RETURN(rooted::ServiceSettings settings,
                   rooted::LoadServiceSettings(config, /*default_grpc_port=*/50055,
                                               /*default_metrics_port=*/9468));
  rooted::fund::FundServiceOptions options;
  options.sharing_agreement = config.String("sharing-agreement", "local-pilot");
  const std::string key_prefix = config.String("redis-key-prefix", "fp");
  const std::string group = config.String("consumer-group", kServiceName);
  RETURN_IF_ERROR(config.CheckAllFlagsUsed());

  ASSIGN_OR_RETURN(auto core, rooted::ServiceCore::Start(settings, kServiceName, key_prefix,
                                                         rooted::topics::kFundEvents));
  rooted::fund::FundStore store(core->redis(), key_prefix);
  rooted::fund::Ledger ledger(core->redis(), core->redis_pipe(), key_prefix);
  rooted::ReferralFactsKeeper referral_facts(store);
  rooted::fund::FundServiceImpl service(store, ledger, referral_facts, core->clock(),
                                        core->metrics(), options);
  rooted::fund::FundEventHandler handler(store, referral_facts, core->clock());
  ASSIGN_OR_RETURN(
      auto consumer,
      core->Consumer(core->ConsumerOptions(group, {std::string(rooted::topics::kForumEvents),
                                                   std::string(rooted::topics::kReferralEvents)}),
                     handler));
  rooted::fund::FundOwners owners(store, referral_facts);
  rooted::GuardedService api("rooted.fund.v1.FundService",
                             core->ServiceOptions(&owners, options.sharing_agreement));
  service.Bind(api);
  return core->Serve({&api}, {consumer.get()});
}

}  // namespace

int main(int argc, char** argv) { return rooted::ServiceMain(argc, argv, kServiceName, Run); }
