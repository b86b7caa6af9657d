// directory-triage: wiring only. Loads the directory into memory, follows
// its change feed, serves the directory and triage APIs, consumes referral
// events, expires quality assurance, and drains on SIGTERM.

#include <atomic>
#include <thread>

#include "common/base/config.h"
#include "common/base/status_macros.h"
#include "common/base/thread_name.h"
#include "common/kafka/topics.h"
#include "common/server/service_core.h"
#include "common/server/service_runtime.h"
#include "services/directory-triage/directory_service.h"
#include "services/directory-triage/triage_service.h"

namespace {

constexpr char kServiceName[] = "directory-triage";

absl::Status Run(const rooted::Config& config) {
  ASSIGN_OR_RETURN(rooted::ServiceSettings settings,
                   rooted::LoadServiceSettings(config, /*default_grpc_port=*/50054,
                                               /*default_metrics_port=*/9467,
                                               // A council's whole directory in one import.
                                               /*default_max_message_bytes=*/64 << 20));
  rooted::directory::DirectoryOptions options;
  options.sharing_agreement = config.String("sharing-agreement", "local-pilot");
  options.zone = settings.time_zone;
  const std::string key_prefix = config.String("redis-key-prefix", "ds");
  const std::string group = config.String("consumer-group", kServiceName);
  RETURN_IF_ERROR(config.CheckAllFlagsUsed());

  ASSIGN_OR_RETURN(auto core, rooted::ServiceCore::Start(settings, kServiceName, key_prefix,
                                                         rooted::topics::kDirectoryEvents));
  rooted::directory::DirectoryStore store(core->redis(), key_prefix);
  rooted::directory::DirectoryIndex index;
  rooted::directory::DirectoryCore directory(store, index, core->clock(), options);
  RETURN_IF_ERROR(directory.Load());
  core->logger().Info("directory loaded", {{"services", int64_t(index.size())}});
  rooted::ReferralFactsKeeper referral_facts(store);
  rooted::directory::DirectoryServiceImpl directory_service(directory, referral_facts);
  rooted::directory::TriageServiceImpl triage_service(directory, core->metrics());
  rooted::directory::ReferralNeedsHandler handler(directory, referral_facts);
  ASSIGN_OR_RETURN(
      auto consumer,
      core->Consumer(core->ConsumerOptions(group, {std::string(rooted::topics::kReferralEvents)}),
                     handler));

  // Other replicas' changes reach this one's index within ~100 ms; expiry
  // of quality assurance is persisted and announced once a minute.
  std::atomic<bool> following{true};
  std::thread follower([&] {
    rooted::NameThisThread("change-follower");
    int ticks = 0;
    while (following.load()) {
      if (absl::StatusOr<int> applied = directory.Follow(); !applied.ok()) {
        core->logger().Warn("change feed unreadable; retrying",
                            {{"error", std::string(applied.status().message())}});
      }
      if (ticks++ % 600 == 0) {
        if (absl::StatusOr<int> expired = directory.ExpireQualityAssurance(); !expired.ok()) {
          core->logger().Warn("QA expiry sweep failed", {{"error", std::string(expired.status().message())}});
        } else if (*expired > 0) {
          core->logger().Info("quality assurance expired", {{"services", int64_t(*expired)}});
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  rooted::ReferralFactsOwners referral_owners(referral_facts);
  rooted::GuardedService directory_api(
      "rooted.directory.v1.DirectoryService",
      core->ServiceOptions(&referral_owners, options.sharing_agreement));
  directory_service.Bind(directory_api);
  rooted::GuardedService triage_api(
      "rooted.directory.v1.TriageService",
      core->ServiceOptions(&referral_owners, options.sharing_agreement));
  triage_service.Bind(triage_api);
  absl::Status served = core->Serve({&directory_api, &triage_api}, {consumer.get()});
  following = false;
  follower.join();
  return served;
}

}  // namespace

int main(int argc, char** argv) { return rooted::ServiceMain(argc, argv, kServiceName, Run); }
