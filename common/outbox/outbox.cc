#include "common/outbox/outbox.h"

#include <algorithm>
#include <limits>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/base/ids.h"
#include "common/base/thread_name.h"

namespace rooted {
namespace {

constexpr char kRenewLease[] = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) and 1 or 0
)lua";

std::string* FieldOf(RedisReply& fields, absl::string_view name) {
  for (size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
    if (fields.elements[i].str == name) return &fields.elements[i + 1].str;
  }
  return nullptr;
}

// The smallest stream id after `id` ("<ms>-<seq>"), so that XTRIM MINID
// keeps nothing up to and including `id`.
bool NextStreamId(absl::string_view id, std::string& next) {
  const size_t dash = id.find('-');
  uint64_t ms = 0;
  uint64_t seq = 0;
  if (dash == absl::string_view::npos || !absl::SimpleAtoi(id.substr(0, dash), &ms) ||
      !absl::SimpleAtoi(id.substr(dash + 1), &seq)) {
    return false;
  }
  next = seq == std::numeric_limits<uint64_t>::max() ? absl::StrCat(ms + 1, "-0") : absl::StrCat(ms, "-", seq + 1);
  return true;
}

}  // namespace

std::vector<std::string> OutboxAppendCommand(const std::string& stream_key,
                                             const OutboxEvent& event) {
  return {"XADD",          stream_key, "*",           "topic",    event.topic,    "key",
          event.key,       "payload",  event.payload, "event_id", event.event_id, "event_type",
          event.event_type};
}

OutboxRelay::OutboxRelay(RedisClient& redis, EventProducer& producer, OutboxRelayOptions options,
                         Metrics& metrics, Logger& logger)
    : redis_(redis),
      producer_(producer),
      options_(std::move(options)),
      metrics_(metrics),
      logger_(logger),
      owner_(NewUuid()) {}

OutboxRelay::~OutboxRelay() {
  if (thread_.joinable()) Stop(absl::ZeroDuration());
}

void OutboxRelay::Start() {
  for (const std::string& topic : options_.topics) metrics_.DeclareProducedTopic(topic);
  running_.store(true);
  thread_ = std::thread([this] {
    NameThisThread("outbox-relay");
    Run();
  });
}

void OutboxRelay::Stop(absl::Duration drain) {
  running_.store(false);
  if (thread_.joinable()) thread_.join();
  const absl::Time deadline = absl::Now() + drain;
  while (absl::Now() < deadline) {
    absl::StatusOr<size_t> relayed = RelayOnce();
    if (!relayed.ok() || *relayed == 0) break;
  }
  static const RedisScript release(
      "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return "
      "0");
  (void)redis_.Eval(release, {options_.lease_key}, {owner_});
}

absl::StatusOr<bool> OutboxRelay::HoldLease() {
  // Renewed a third of the way into its life, not every round: a busy relay
  // spends its round trips on the outbox, an idle one does not poll Redis
  // with lease scripts fifty times a second.
  const absl::Time now = absl::Now();
  if (now < renew_after_) return true;
  static const RedisScript renew(kRenewLease);
  absl::StatusOr<RedisReply> reply =
      redis_.Eval(renew, {options_.lease_key},
                  {owner_, std::to_string(absl::ToInt64Milliseconds(options_.lease_ttl))});
  if (!reply.ok()) return reply.status();
  const bool held = reply->integer == 1;
  renew_after_ = held ? now + options_.lease_ttl / 3 : absl::InfinitePast();
  return held;
}

absl::StatusOr<int64_t> OutboxRelay::Depth() {
  absl::StatusOr<RedisReply> reply = redis_.Command({"XLEN", options_.stream_key});
  if (!reply.ok()) return reply.status();
  return reply->integer;
}

absl::StatusOr<size_t> OutboxRelay::RelayOnce() {
  absl::StatusOr<bool> leader = HoldLease();
  if (!leader.ok()) return leader.status();
  if (!*leader) return 0;
  absl::StatusOr<RedisReply> range = redis_.Command(
      {"XRANGE", options_.stream_key, "-", "+", "COUNT", std::to_string(options_.batch_size)});
  if (!range.ok()) return range.status();
  std::vector<std::string> ids;
  std::vector<OutgoingMessage> messages;
  ids.reserve(range->elements.size());
  messages.reserve(range->elements.size());
  // How many messages come before the first entry left in place: only
  // entries before it may be trimmed away.
  size_t before_first_left = std::numeric_limits<size_t>::max();
  // The reply's strings move into the messages: payloads are copied once,
  // into librdkafka, not twice more here.
  for (RedisReply& entry : range->elements) {
    if (entry.elements.size() != 2) {
      before_first_left = std::min(before_first_left, messages.size());
      continue;
    }
    RedisReply& fields = entry.elements[1];
    std::string* topic = FieldOf(fields, "topic");
    std::string* key = FieldOf(fields, "key");
    std::string* payload = FieldOf(fields, "payload");
    std::string* event_id = FieldOf(fields, "event_id");
    std::string* event_type = FieldOf(fields, "event_type");
    if (!topic || !key || !payload || !event_id || !event_type) {
      logger_.Error("outbox entry is malformed; leaving it for an operator",
                    {{"entry", entry.elements[0].str}});
      before_first_left = std::min(before_first_left, messages.size());
      continue;
    }
    ids.push_back(std::move(entry.elements[0].str));
    messages.push_back(OutgoingMessage{std::move(*topic),
                                       std::move(*key),
                                       std::move(*payload),
                                       {{"event_id", std::move(*event_id)},
                                        {"event_type", std::move(*event_type)},
                                        {"producer", options_.producer_name}}});
  }
  if (messages.empty()) {
    metrics_.SetOutboxDepth(0);
    return 0;
  }
  std::vector<absl::Status> results = producer_.Deliver(messages, options_.delivery_timeout);
  // The delivered entries from the oldest on are trimmed in one step (whole
  // stream nodes are freed, where XDEL marks entries one by one and cost
  // Redis as much as the XRANGE); any delivered after one left in place (its
  // delivery failed, or it is malformed) are deleted one by one.
  size_t trimmed = 0;
  while (trimmed < results.size() && trimmed < before_first_left && results[trimmed].ok()) ++trimmed;
  std::string trim_below;
  if (trimmed > 0 && !NextStreamId(ids[trimmed - 1], trim_below)) trimmed = 0;
  std::vector<std::string> deleted = {"XDEL", options_.stream_key};
  // Counted once a topic, not once an event.
  absl::flat_hash_map<absl::string_view, double> produced;
  for (size_t i = 0; i < results.size(); ++i) {
    if (results[i].ok()) {
      if (i >= trimmed) deleted.push_back(ids[i]);
      ++produced[messages[i].topic];
    } else {
      metrics_.RecordProduceFailure(messages[i].topic);
      logger_.Warn("outbox delivery failed; will retry",
                   {{"topic", messages[i].topic}, {"error", std::string(results[i].message())}});
    }
  }
  for (const auto& [topic, count] : produced) metrics_.RecordProduced(topic, count);
  // The removal and the new depth in one round trip.
  std::vector<std::vector<std::string>> commands;
  const size_t relayed = trimmed + deleted.size() - 2;
  if (trimmed > 0) commands.push_back({"XTRIM", options_.stream_key, "MINID", trim_below});
  if (deleted.size() > 2) commands.push_back(std::move(deleted));
  commands.push_back({"XLEN", options_.stream_key});
  absl::StatusOr<std::vector<RedisReply>> replies = redis_.Pipeline(commands);
  if (!replies.ok()) return replies.status();
  for (size_t i = 0; i + 1 < replies->size(); ++i) {
    if ((*replies)[i].is_error()) return RedisErrorStatus((*replies)[i], commands[i][0]);
  }
  if (!replies->back().is_error()) metrics_.SetOutboxDepth(double(replies->back().integer));
  return relayed;
}

void OutboxRelay::Run() {
  absl::Duration backoff = options_.idle_wait;
  while (running_.load()) {
    absl::StatusOr<size_t> relayed = RelayOnce();
    if (!relayed.ok()) {
      logger_.Warn("outbox relay round failed",
                   {{"error", std::string(relayed.status().message())}});
      absl::SleepFor(backoff);
      backoff = std::min(backoff * 2, absl::Seconds(2));
      continue;
    }
    backoff = options_.idle_wait;
    if (*relayed == 0) absl::SleepFor(options_.idle_wait);
  }
}

}  // namespace rooted
