#ifndef ROOTED_COMMON_KAFKA_TOPICS_H_
#define ROOTED_COMMON_KAFKA_TOPICS_H_

#include <array>

#include "absl/strings/string_view.h"

namespace rooted::topics {

// One topic per producing domain, versioned; a breaking change is a new v2.
inline constexpr absl::string_view kReferralEvents = "rooted.referral.events.v1";
inline constexpr absl::string_view kRiskEvents = "rooted.risk.events.v1";
inline constexpr absl::string_view kForumEvents = "rooted.forum.events.v1";
inline constexpr absl::string_view kDirectoryEvents = "rooted.directory.events.v1";
inline constexpr absl::string_view kFundEvents = "rooted.fund.events.v1";
inline constexpr absl::string_view kSignals = "rooted.signals.v1";

inline constexpr std::array<absl::string_view, 6> kAll = {
    kReferralEvents, kRiskEvents, kForumEvents, kDirectoryEvents, kFundEvents, kSignals};

// Each consumed topic has a dead-letter topic beside it.
inline constexpr absl::string_view kDeadLetterSuffix = ".dlq";

}  // namespace rooted::topics

#endif  // ROOTED_COMMON_KAFKA_TOPICS_H_
