#include "common/identity/pupil_ref.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <atomic>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace rooted {

// An HMAC-SHA256 state with the council secret already set. Each thread
// works on its own copy, re-initialised per reference from the key it holds:
// copying the shared state per call bumped reference counts that every
// handler thread shares.
struct PupilRefHasher::KeyedMac {
  EVP_MAC_CTX* ctx = nullptr;
  // Tells one keyed state from another, even one made later at the same address.
  uint64_t id = 0;
  ~KeyedMac() { EVP_MAC_CTX_free(ctx); }
};

namespace {

std::atomic<uint64_t> next_keyed_mac_id{1};

// This thread's copy of the last keyed state it used.
struct ThreadMac {
  uint64_t id = 0;
  EVP_MAC_CTX* ctx = nullptr;
  ~ThreadMac() { EVP_MAC_CTX_free(ctx); }
};

}  // namespace

absl::StatusOr<PupilRefHasher> PupilRefHasher::Create(std::string secret) {
  if (secret.size() < kMinSecretBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("pupil reference secret must be at least ", kMinSecretBytes, " bytes"));
  }
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (mac == nullptr) return absl::InternalError("OpenSSL has no HMAC");
  auto keyed = std::make_shared<KeyedMac>();
  keyed->id = next_keyed_mac_id.fetch_add(1);
  keyed->ctx = EVP_MAC_CTX_new(mac);
  EVP_MAC_free(mac);  // the context holds its own reference
  char digest_name[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0), OSSL_PARAM_construct_end()};
  if (keyed->ctx == nullptr ||
      EVP_MAC_init(keyed->ctx, reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
                   params) != 1) {
    return absl::InternalError("cannot key HMAC-SHA256 with the pupil reference secret");
  }
  OPENSSL_cleanse(secret.data(), secret.size());
  return PupilRefHasher(std::move(keyed));
}

std::string PupilRefHasher::RefFor(const Upn& upn) const {
  unsigned char digest[EVP_MAX_MD_SIZE];
  size_t length = 0;
  thread_local ThreadMac mine;
  if (mine.id != keyed_->id) {
    EVP_MAC_CTX_free(mine.ctx);
    mine.ctx = EVP_MAC_CTX_dup(keyed_->ctx);
    mine.id = mine.ctx != nullptr ? keyed_->id : 0;
  }
  // A null key starts afresh with the key already set.
  const bool ok = mine.ctx != nullptr && EVP_MAC_init(mine.ctx, nullptr, 0, nullptr) == 1 &&
                  EVP_MAC_update(mine.ctx, reinterpret_cast<const unsigned char*>(upn.value().data()),
                                 upn.value().size()) == 1 &&
                  EVP_MAC_final(mine.ctx, digest, &length, sizeof(digest)) == 1 && length >= 16;
  // Out of memory inside OpenSSL: no reference can be made, and a wrong one
  // would join two pupils' records.
  if (!ok) std::abort();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "pr_";
  for (unsigned int i = 0; i < 16; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0x0f]);
  }
  return out;
}

bool PupilRefHasher::LooksLikeRef(absl::string_view text) {
  if (text.size() != 35 || text.substr(0, 3) != "pr_") return false;
  for (char c : text.substr(3)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace rooted
