#ifndef ROOTED_TOOLS_CTL_DEAD_LETTERS_H_
#define ROOTED_TOOLS_CTL_DEAD_LETTERS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/kafka/event_producer.h"

namespace rooted::ctl {

// One event a consumer group gave up on, as it sits on "<topic>.dlq" with
// the headers the consumer added (reason, code, attempts, group, source).
struct DeadLetter {
  std::string dlq_topic;
  int32_t partition = 0;
  int64_t offset = 0;
  absl::Time at;  // when it was dead-lettered
  std::string key;
  std::string payload;
  std::map<std::string, std::string> headers;

  // "<dlq topic>:<partition>:<offset>": how an operator names it.
  std::string id() const;
  // The topic it was consumed from.
  std::string source_topic() const;
  // The header's value, or "" when it has none.
  std::string header(absl::string_view name) const;
};

struct DeadLetterPlace {
  std::string dlq_topic;
  int32_t partition = 0;
  int64_t offset = 0;
};
// INVALID_ARGUMENT naming `field` unless `id` is "<topic>.dlq:<partition>:<offset>".
absl::StatusOr<DeadLetterPlace> ParseDeadLetterId(absl::string_view id, absl::string_view field);

// Every dead letter now on the given dead-letter topics, oldest first in each
// partition; topics the cluster does not have are left out. Reads from the
// start of each partition to its end, without joining a consumer group or
// committing anything. UNAVAILABLE if the cluster does not answer in time.
absl::StatusOr<std::vector<DeadLetter>> ReadDeadLetters(const std::string& bootstrap,
                                                        const std::vector<std::string>& dlq_topics,
                                                        absl::Duration timeout);

// The message that replays `letter` to the topic it came from, for the group
// that failed it alone: its key, payload and the producer's headers, with
// replay_for_group (the failing group) and replay_id (the dead letter's id),
// so every other group skips it and the same dead letter replayed twice is
// applied once. FAILED_PRECONDITION when the letter names no consumer group.
absl::StatusOr<OutgoingMessage> ReplayOf(const DeadLetter& letter);

}  // namespace rooted::ctl

#endif  // ROOTED_TOOLS_CTL_DEAD_LETTERS_H_
