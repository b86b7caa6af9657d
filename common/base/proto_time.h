#ifndef ROOTED_COMMON_BASE_PROTO_TIME_H_
#define ROOTED_COMMON_BASE_PROTO_TIME_H_

#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/time_util.h>

#include "absl/time/time.h"

namespace rooted {

// absl::Time <-> google.protobuf.Timestamp, to the nanosecond.
inline google::protobuf::Timestamp ToProtoTimestamp(absl::Time t) {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

inline absl::Time FromProtoTimestamp(const google::protobuf::Timestamp& t) {
  return absl::FromUnixNanos(google::protobuf::util::TimeUtil::TimestampToNanoseconds(t));
}

}  // namespace rooted

#endif  // ROOTED_COMMON_BASE_PROTO_TIME_H_
