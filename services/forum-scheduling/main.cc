// forum-scheduling: wiring only. Reads configuration, builds the store, the
// service, the event consumer and the overdue-action sweeper, serves until
// SIGTERM, then drains.

#include <atomic>
#include <thread>

#include "common/base/config.h"
#include "common/base/status_macros.h"
#include "common/base/thread_name.h"
#include "common/kafka/topics.h"
#include "common/server/service_core.h"
#include "common/server/service_runtime.h"
#include "services/forum-scheduling/forum_event_handler.h"
#include "services/forum-scheduling/forum_service.h"

namespace {

constexpr char kServiceName[] = "forum-scheduling";

absl::Status Run(const rooted::Config& config) {
  ASSIGN_OR_RETURN(rooted::ServiceSettings settings,
                   rooted::LoadServiceSettings(config, /*default_grpc_port=*/50053,
                                               /*default_metrics_port=*/9466));
  rooted::forum::ForumServiceOptions options;
  options.sharing_agreement = config.String("sharing-agreement", "local-pilot");
  options.zone = settings.time_zone;
  const std::string key_prefix = config.String("redis-key-prefix", "fs");
  const std::string group = config.String("consumer-group", kServiceName);
  ASSIGN_OR_RETURN(int64_t sweep_seconds, config.Int("overdue-sweep-seconds", 60, 1, 86'400));
  RETURN_IF_ERROR(config.CheckAllFlagsUsed());

  ASSIGN_OR_RETURN(auto core, rooted::ServiceCore::Start(settings, kServiceName, key_prefix,
                                                         rooted::topics::kForumEvents));
  rooted::forum::ForumStore store(core->redis(), key_prefix);
  rooted::forum::ForumServiceImpl service(store, core->clock(), core->metrics(), options);
  rooted::ReferralFactsKeeper referral_facts(store);
  rooted::forum::ForumEventHandler handler(store, referral_facts, core->clock(), options.zone,
                                           kServiceName);
  ASSIGN_OR_RETURN(
      auto consumer,
      core->Consumer(core->ConsumerOptions(group, {std::string(rooted::topics::kReferralEvents),
                                                   std::string(rooted::topics::kRiskEvents)}),
                     handler));

  // Overdue actions are flagged (and announced) once a sweep after their due day.
  std::atomic<bool> sweeping{true};
  std::thread sweeper([&] {
    rooted::NameThisThread("overdue-sweep");
    while (sweeping.load()) {
      absl::StatusOr<int> flagged = service.FlagOverdueActions();
      if (!flagged.ok()) {
        core->logger().Warn("overdue sweep failed", {{"error", std::string(flagged.status().message())}});
      } else if (*flagged > 0) {
        core->logger().Info("actions flagged overdue", {{"count", int64_t(*flagged)}});
      }
      for (int64_t s = 0; s < sweep_seconds * 10 && sweeping.load(); ++s) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  });
  rooted::forum::ForumOwners owners(store);
  rooted::GuardedService api("rooted.forum.v1.ForumService",
                             core->ServiceOptions(&owners, options.sharing_agreement));
  service.Bind(api);
  absl::Status served = core->Serve({&api}, {consumer.get()});
  sweeping = false;
  sweeper.join();
  return served;
}

}  // namespace

int main(int argc, char** argv) { return rooted::ServiceMain(argc, argv, kServiceName, Run); }
