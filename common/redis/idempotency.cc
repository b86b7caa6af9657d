#include "common/redis/idempotency.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>  // ArrayOutputStream
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <array>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace rooted {
namespace {

// Sized first and written into one flat buffer, rather than into a string
// grown piece by piece through a stream.
std::string DeterministicBytes(const google::protobuf::Message& message) {
  std::string out(message.ByteSizeLong(), '\0');
  google::protobuf::io::ArrayOutputStream stream(out.data(), static_cast<int>(out.size()));
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  message.SerializeWithCachedSizes(&coded);
  return out;
}

// Fetched once: OpenSSL 3's one-shot SHA256() looks the algorithm up in the
// provider store, under a lock, on every call.
const EVP_MD* Sha256() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

using Digest = std::array<unsigned char, SHA256_DIGEST_LENGTH>;

Digest Sha256Of(absl::string_view bytes) {
  Digest digest;
  unsigned int length = 0;
  if (Sha256() == nullptr || EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, Sha256(), nullptr) != 1 ||
      length != SHA256_DIGEST_LENGTH) {
    // Without a hash a retry could not be told from a different request,
    // nor find what its first call created.
    std::abort();
  }
  return digest;
}

}  // namespace

std::string IdempotencyKey(absl::string_view prefix, absl::string_view subject,
                           absl::string_view method, absl::string_view request_id) {
  return absl::StrCat(prefix, ":idem:", method, ":", subject, ":", request_id);
}

std::string IdForRequest(absl::string_view method, absl::string_view subject, absl::string_view request_id) {
  // Each part's length leads it, so no two different triples hash the same bytes.
  Digest digest = Sha256Of(
      absl::StrCat(method.size(), ":", method, subject.size(), ":", subject, request_id.size(), ":", request_id));
  digest[6] = static_cast<unsigned char>((digest[6] & 0x0f) | 0x80);  // version 8
  digest[8] = static_cast<unsigned char>((digest[8] & 0x3f) | 0x80);  // RFC 9562 variant
  constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  id.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) id.push_back('-');
    id.push_back(kHex[digest[i] >> 4]);
    id.push_back(kHex[digest[i] & 0x0f]);
  }
  return id;
}

absl::string_view RequestIdFieldOf(const google::protobuf::Message& request) {
  return request.GetDescriptor()->FindFieldByName("client_request_id") != nullptr
             ? "client_request_id"
             : "request_id";
}

absl::Status RequestIdReusedError(absl::string_view field) {
  return absl::AlreadyExistsError(
      absl::StrCat(field, ": already used for a different request; use a new request id"));
}

std::string RequestFingerprint(const google::protobuf::Message& request) {
  const Digest digest = Sha256Of(DeterministicBytes(request));
  return std::string(reinterpret_cast<const char*>(digest.data()), digest.size());
}

std::string EncodeFirstAnswer(absl::string_view fingerprint, absl::string_view response_bytes) {
  return absl::StrCat(fingerprint, response_bytes);
}

std::string EncodeFirstAnswer(const google::protobuf::Message& request,
                              const google::protobuf::Message& response) {
  return EncodeFirstAnswer(RequestFingerprint(request), DeterministicBytes(response));
}

absl::StatusOr<absl::string_view> StoredResponse(absl::string_view stored,
                                                 absl::string_view fingerprint,
                                                 absl::string_view field) {
  if (stored.size() < SHA256_DIGEST_LENGTH) {
    return absl::InternalError("stored answer is corrupt");
  }
  if (stored.substr(0, SHA256_DIGEST_LENGTH) != fingerprint) return RequestIdReusedError(field);
  return stored.substr(SHA256_DIGEST_LENGTH);
}

absl::Status DecodeFirstAnswer(absl::string_view stored, const google::protobuf::Message& request,
                               google::protobuf::Message* response) {
  absl::StatusOr<absl::string_view> body =
      StoredResponse(stored, RequestFingerprint(request), RequestIdFieldOf(request));
  if (!body.ok()) return body.status();
  if (!response->ParseFromArray(body->data(), static_cast<int>(body->size()))) {
    return absl::InternalError("stored answer is corrupt");
  }
  return absl::OkStatus();
}

}  // namespace rooted
