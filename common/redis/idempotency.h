#ifndef ROOTED_COMMON_REDIS_IDEMPOTENCY_H_
#define ROOTED_COMMON_REDIS_IDEMPOTENCY_H_

#include <google/protobuf/message.h>

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rooted {

// Idempotent RPCs keep the first answer under a guard key; a retry with the
// same request id gets that answer back. A different request under the same
// id is refused, so a client bug cannot silently return someone else's result.

// How long a request id is remembered.
inline constexpr int64_t kIdempotencyTtlSeconds = 7 * 24 * 3600;

// Scoped by caller and method, so two clients cannot collide on an id.
std::string IdempotencyKey(absl::string_view prefix, absl::string_view subject,
                           absl::string_view method, absl::string_view request_id);

// What tells a retry from a different request under the same id: a SHA-256
// of the request's deterministic encoding.
std::string RequestFingerprint(const google::protobuf::Message& request);

// The id of what one caller's request creates, the same on every retry: a
// version 8 UUID from SHA-256 of the method, the caller's subject and the
// request id. A creation keyed by it needs no guard key: the write's "must not
// exist yet" precondition is what finds a retry, and the record it finds is
// the answer. (The subject already travels on events as their actor, so the
// id reveals no more than they do.)
std::string IdForRequest(absl::string_view method, absl::string_view subject, absl::string_view request_id);

// The name `request` gives its request id: client_request_id where it has
// that field (the fund's requests), else request_id.
absl::string_view RequestIdFieldOf(const google::protobuf::Message& request);

// ALREADY_EXISTS naming `field`: the id was used for a different request.
absl::Status RequestIdReusedError(absl::string_view field = "request_id");

// The guard value: the request's fingerprint, then the encoded response.
std::string EncodeFirstAnswer(absl::string_view fingerprint, absl::string_view response_bytes);
std::string EncodeFirstAnswer(const google::protobuf::Message& request,
                              const google::protobuf::Message& response);

// The encoded response in a stored guard value, for handlers that answer
// with bytes. ALREADY_EXISTS naming `field` when the stored answer was for
// a different request.
absl::StatusOr<absl::string_view> StoredResponse(absl::string_view stored,
                                                 absl::string_view fingerprint,
                                                 absl::string_view field = "request_id");

// Fills `response` from a stored guard value, as StoredResponse checks it.
absl::Status DecodeFirstAnswer(absl::string_view stored, const google::protobuf::Message& request,
                               google::protobuf::Message* response);

}  // namespace rooted

#endif  // ROOTED_COMMON_REDIS_IDEMPOTENCY_H_
