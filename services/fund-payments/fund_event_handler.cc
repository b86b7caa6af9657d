#include "services/fund-payments/fund_event_handler.h"

#include "absl/strings/str_cat.h"
#include "common/base/proto_time.h"
#include "common/base/status_macros.h"
#include "common/kafka/topics.h"
#include "rooted/forum/v1/forum_events.pb.h"
#include "rooted/fund/v1/fund.pb.h"

namespace rooted::fund {

absl::StatusOr<ApplyResult> FundEventHandler::Apply(const ConsumedEvent& event) {
  if (event.topic == topics::kReferralEvents) return ApplyReferral(event);
  return ApplyForum(event);
}

absl::StatusOr<ApplyResult> FundEventHandler::ApplyReferral(const ConsumedEvent& event) {
  rooted::referral::v1::ReferralEvent envelope;
  if (!envelope.ParseFromString(event.payload)) {
    return absl::InvalidArgumentError("payload is not a ReferralEvent");
  }
  WriteBatch batch;
  ASSIGN_OR_RETURN(std::optional<ReferralFactsKeeper::Facts> facts,
                   referrals_.Stage(batch, envelope));
  absl::StatusOr<ApplyResult> applied = store_.CommitConsumed(std::move(batch), event.dedup_key());
  if (facts && applied.ok() && *applied == ApplyResult::kApplied) referrals_.Remember(*facts);
  return applied;
}

absl::StatusOr<ApplyResult> FundEventHandler::ApplyForum(const ConsumedEvent& event) {
  rooted::forum::v1::ForumEvent envelope;
  if (!envelope.ParseFromString(event.payload)) {
    return absl::InvalidArgumentError("payload is not a ForumEvent");
  }
  WriteBatch batch;
  if (envelope.has_decision_recorded() &&
      envelope.decision_recorded().decision().type() ==
          rooted::forum::v1::DECISION_TYPE_REQUEST_FUND_SUPPORT) {
    const auto& recorded = envelope.decision_recorded();
    v1::FundRequest draft;
    draft.set_request_id(store_.DraftId(recorded.decision().decision_id()));
    draft.set_referral_id(recorded.referral_id());
    draft.set_decision_id(recorded.decision().decision_id());
    *draft.mutable_pupil_ref() = recorded.pupil_ref();
    *draft.mutable_amount() = recorded.decision().fund_amount();
    draft.set_status(v1::REQUEST_STATUS_DRAFT);
    *draft.mutable_requested_by() = recorded.decision().decided_by();
    *draft.mutable_submitted_at() = ToProtoTimestamp(clock_.Now());
    draft.set_version(1);
    store_.Put(batch, store_.RequestKey(draft.request_id()), draft, 0);
    batch.commands.push_back({"ZADD", store_.DraftsKey(), std::to_string(absl::ToUnixMillis(clock_.Now())),
                              draft.request_id()});
  }
  absl::StatusOr<ApplyResult> result = store_.CommitConsumed(std::move(batch), event.dedup_key());
  // A draft for this decision exists already (the event came again after
  // its processed mark expired): nothing to do.
  if (absl::IsAborted(result.status())) return ApplyResult::kDuplicate;
  return result;
}

}  // namespace rooted::fund
