#ifndef ROOTED_COMMON_SERVER_MESSAGE_FIELDS_H_
#define ROOTED_COMMON_SERVER_MESSAGE_FIELDS_H_

#include <google/protobuf/message.h>
#include <grpcpp/support/byte_buffer.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace rooted {

// Parses a request body into `message`. A body that does not parse is
// INVALID_ARGUMENT naming `request`; one that fails only because a string
// field holds invalid UTF-8 names that field ("referral.child.given_name").
// `what` prefixes the message, e.g. "message 3" for a stream's third.
absl::Status DecodeRequest(const grpc::ByteBuffer& body, google::protobuf::Message& message,
                           absl::string_view what = "request");

// The path (dotted, as in the proto) of the first string field in the
// encoded `bytes` of a `type` message that holds invalid UTF-8; empty when
// none does.
std::string FindInvalidUtf8Field(const google::protobuf::Descriptor& type, absl::string_view bytes);

// The text of the singular string field at a dotted path ("fund_request.referral_id");
// empty when the path is unset or names no string field.
std::string StringAt(const google::protobuf::Message& message, absl::string_view path);

// Appends every rooted.common.v1.PupilRef value `message` holds, at any depth.
void CollectPupilRefs(const google::protobuf::Message& message, std::vector<std::string>& refs);

// Whether a message of `type` can hold a PupilRef, at any depth.
bool CanHoldPupilRef(const google::protobuf::Descriptor& type);

// Every google.protobuf.Timestamp `message` holds, at any depth, is in range:
// nanos 0..999,999,999 and a year from 1900 to 2200. Else INVALID_ARGUMENT
// naming the first one out of range ("new_starts_at: ...").
absl::Status CheckTimestamps(const google::protobuf::Message& message);

// What a consumer checks of an event before acting on it, beyond its parse:
// every timestamp in range (CheckTimestamps); every PupilRef set is a
// well-formed pupil reference; every enum holds a value its enum declares;
// every id (a string field named "id", "..._id" or "..._ids") is at most 128
// characters of letters, digits and "_-.:". INVALID_ARGUMENT naming the
// first field at fault ("case_listed.forum_case.pupil_ref: ...").
absl::Status CheckEventValues(const google::protobuf::Message& event);

}  // namespace rooted

#endif  // ROOTED_COMMON_SERVER_MESSAGE_FIELDS_H_
