#include "common/auth/jwt.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/base/base64.h"
#include "common/base/status_macros.h"

namespace rooted {
namespace {

using Json = nlohmann::json;

const char* AlgorithmName(JwtAlgorithm algorithm) {
  return algorithm == JwtAlgorithm::kHs256 ? "HS256" : "RS256";
}

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

absl::StatusOr<PkeyPtr> ReadPem(const std::string& pem, bool is_private) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  if (!bio) return absl::InternalError("out of memory reading key");
  EVP_PKEY* key = is_private ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                             : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) {
    return absl::InvalidArgumentError(is_private ? "RS256 key is not a PEM private key"
                                                 : "RS256 key is not a PEM public key");
  }
  PkeyPtr owned(key);
  if (EVP_PKEY_base_id(key) != EVP_PKEY_RSA || EVP_PKEY_bits(key) < 2048) {
    return absl::InvalidArgumentError("RS256 needs an RSA key of at least 2048 bits");
  }
  return owned;
}

std::string HmacSha256(absl::string_view secret, absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length);
  return std::string(reinterpret_cast<char*>(digest), length);
}

absl::Status Unauthenticated(absl::string_view why) {
  return absl::UnauthenticatedError(absl::StrCat("invalid token: ", why));
}

// Reads a NumericDate claim; absent -> nullopt.
absl::StatusOr<std::optional<absl::Time>> TimeClaim(const Json& payload, const char* name) {
  auto it = payload.find(name);
  if (it == payload.end()) return std::nullopt;
  if (!it->is_number()) return Unauthenticated(absl::StrCat(name, " is not a number"));
  return absl::FromUnixSeconds(it->get<int64_t>());
}

}  // namespace

absl::StatusOr<JwtAlgorithm> ParseJwtAlgorithm(absl::string_view name) {
  if (name == "HS256") return JwtAlgorithm::kHs256;
  if (name == "RS256") return JwtAlgorithm::kRs256;
  return absl::InvalidArgumentError(
      absl::StrCat("token algorithm must be HS256 or RS256, got \"", name, "\""));
}

struct JwtVerifier::Key {
  std::string secret;  // HS256
  PkeyPtr public_key;  // RS256
};

absl::StatusOr<std::unique_ptr<JwtVerifier>> JwtVerifier::Create(JwtVerifierSettings settings,
                                                                 const Clock& clock) {
  if (settings.issuer.empty()) return absl::InvalidArgumentError("token issuer must be set");
  if (settings.audience.empty()) return absl::InvalidArgumentError("token audience must be set");
  auto key = std::make_unique<Key>();
  if (settings.algorithm == JwtAlgorithm::kHs256) {
    if (settings.key.size() < 32) {
      return absl::InvalidArgumentError("HS256 secret must be at least 32 bytes");
    }
    key->secret = settings.key;
  } else {
    ASSIGN_OR_RETURN(key->public_key, ReadPem(settings.key, /*is_private=*/false));
  }
  return std::unique_ptr<JwtVerifier>(new JwtVerifier(std::move(settings), std::move(key), clock));
}

JwtVerifier::JwtVerifier(JwtVerifierSettings settings, std::unique_ptr<Key> key, const Clock& clock)
    : settings_(std::move(settings)), key_(std::move(key)), clock_(clock) {}

JwtVerifier::~JwtVerifier() = default;

bool JwtVerifier::SignatureMatches(absl::string_view signed_part,
                                   absl::string_view signature) const {
  if (settings_.algorithm == JwtAlgorithm::kHs256) {
    const std::string expected = HmacSha256(key_->secret, signed_part);
    return signature.size() == expected.size() &&
           CRYPTO_memcmp(signature.data(), expected.data(), expected.size()) == 0;
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr,
                                   key_->public_key.get()) != 1) {
    return false;
  }
  return EVP_DigestVerify(
             ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
             reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size()) == 1;
}

absl::StatusOr<Principal> JwtVerifier::Verify(absl::string_view token) const {
  if (token.size() > 8192) return Unauthenticated("too long");
  {
    std::lock_guard lock(remembered_mu_);
    if (auto it = remembered_.find(token); it != remembered_.end()) {
      RETURN_IF_ERROR(CheckWindow(it->second.expires, it->second.not_before));
      return it->second.principal;
    }
  }
  ASSIGN_OR_RETURN(Verified verified, VerifyInFull(token));
  std::lock_guard lock(remembered_mu_);
  if (remembered_.size() >= kRememberedTokens) remembered_.clear();
  remembered_.emplace(token, verified);
  return std::move(verified.principal);
}

absl::Status JwtVerifier::CheckWindow(absl::Time expires, std::optional<absl::Time> not_before) const {
  const absl::Time now = clock_.Now();
  if (now >= expires + settings_.leeway) return Unauthenticated("expired");
  if (not_before && now + settings_.leeway < *not_before) return Unauthenticated("not yet valid");
  return absl::OkStatus();
}

absl::StatusOr<JwtVerifier::Verified> JwtVerifier::VerifyInFull(absl::string_view token) const {
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3) return Unauthenticated("not three dot-separated parts");

  absl::StatusOr<std::string> header_text = Base64UrlDecode(parts[0]);
  if (!header_text.ok()) return Unauthenticated("header is not base64url");
  const Json header = Json::parse(*header_text, nullptr, /*allow_exceptions=*/false);
  if (!header.is_object()) return Unauthenticated("header is not a JSON object");
  auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string() ||
      alg->get<std::string>() != AlgorithmName(settings_.algorithm)) {
    return Unauthenticated(absl::StrCat("algorithm must be ", AlgorithmName(settings_.algorithm)));
  }
  if (header.contains("crit"))
    return Unauthenticated("critical header extensions are not supported");

  absl::StatusOr<std::string> signature = Base64UrlDecode(parts[2]);
  if (!signature.ok()) return Unauthenticated("signature is not base64url");
  const absl::string_view signed_part = token.substr(0, parts[0].size() + 1 + parts[1].size());
  if (!SignatureMatches(signed_part, *signature)) return Unauthenticated("bad signature");

  absl::StatusOr<std::string> payload_text = Base64UrlDecode(parts[1]);
  if (!payload_text.ok()) return Unauthenticated("payload is not base64url");
  const Json payload = Json::parse(*payload_text, nullptr, /*allow_exceptions=*/false);
  if (!payload.is_object()) return Unauthenticated("payload is not a JSON object");

  auto string_claim = [&](const char* name) -> std::string {
    auto it = payload.find(name);
    return it != payload.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (string_claim("iss") != settings_.issuer) return Unauthenticated("wrong issuer");
  bool audience_ok = false;
  if (auto aud = payload.find("aud"); aud != payload.end()) {
    if (aud->is_string()) audience_ok = aud->get<std::string>() == settings_.audience;
    if (aud->is_array()) {
      for (const Json& a : *aud)
        audience_ok |= a.is_string() && a.get<std::string>() == settings_.audience;
    }
  }
  if (!audience_ok) return Unauthenticated("wrong audience");

  ASSIGN_OR_RETURN(std::optional<absl::Time> expires, TimeClaim(payload, "exp"));
  if (!expires) return Unauthenticated("no expiry");
  ASSIGN_OR_RETURN(std::optional<absl::Time> not_before, TimeClaim(payload, "nbf"));
  RETURN_IF_ERROR(CheckWindow(*expires, not_before));

  Principal principal;
  principal.subject = string_claim("sub");
  if (principal.subject.empty() || principal.subject.size() > 128) {
    return Unauthenticated("no subject");
  }
  auto roles = payload.find("roles");
  if (roles == payload.end() || !roles->is_array() || roles->empty()) {
    return Unauthenticated("no roles");
  }
  for (const Json& role : *roles) {
    if (!role.is_string()) return Unauthenticated("roles must be strings");
    absl::StatusOr<Role> parsed = ParseRoleName(role.get<std::string>());
    if (!parsed.ok()) return Unauthenticated(parsed.status().message());
    principal.roles.push_back(*parsed);
  }
  if (absl::Status s = ParseOrganisationName(string_claim("org"), &principal.organisation_type,
                                             &principal.organisation_id);
      !s.ok()) {
    return Unauthenticated(s.message());
  }
  principal.la_code = string_claim("la");
  if (!IsLaCode(principal.la_code)) return Unauthenticated("la must be a 3-digit LA code");
  return Verified{std::move(principal), *expires, not_before};
}

struct JwtSigner::Key {
  std::string secret;
  PkeyPtr private_key;
};

absl::StatusOr<std::unique_ptr<JwtSigner>> JwtSigner::Create(JwtAlgorithm algorithm,
                                                             std::string key_material) {
  auto key = std::make_unique<Key>();
  if (algorithm == JwtAlgorithm::kHs256) {
    if (key_material.size() < 32) {
      return absl::InvalidArgumentError("HS256 secret must be at least 32 bytes");
    }
    key->secret = std::move(key_material);
  } else {
    ASSIGN_OR_RETURN(key->private_key, ReadPem(key_material, /*is_private=*/true));
  }
  return std::unique_ptr<JwtSigner>(new JwtSigner(algorithm, std::move(key)));
}

JwtSigner::JwtSigner(JwtAlgorithm algorithm, std::unique_ptr<Key> key)
    : algorithm_(algorithm), key_(std::move(key)) {}

JwtSigner::~JwtSigner() = default;

absl::StatusOr<std::string> JwtSigner::SignRaw(absl::string_view header_json,
                                               absl::string_view payload_json) const {
  std::string signed_part =
      absl::StrCat(Base64UrlEncode(header_json), ".", Base64UrlEncode(payload_json));
  std::string signature;
  if (algorithm_ == JwtAlgorithm::kHs256) {
    signature = HmacSha256(key_->secret, signed_part);
  } else {
    MdCtxPtr ctx(EVP_MD_CTX_new());
    size_t length = 0;
    if (!ctx ||
        EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_->private_key.get()) !=
            1 ||
        EVP_DigestSign(ctx.get(), nullptr, &length,
                       reinterpret_cast<const unsigned char*>(signed_part.data()),
                       signed_part.size()) != 1) {
      return absl::InternalError("RS256 signing failed");
    }
    signature.resize(length);
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                       reinterpret_cast<const unsigned char*>(signed_part.data()),
                       signed_part.size()) != 1) {
      return absl::InternalError("RS256 signing failed");
    }
    signature.resize(length);
  }
  return absl::StrCat(signed_part, ".", Base64UrlEncode(signature));
}

absl::StatusOr<std::string> JwtSigner::Sign(const TokenRequest& request) const {
  Json roles = Json::array();
  for (Role role : request.principal.roles) roles.push_back(RoleName(role));
  const Json header = {{"alg", AlgorithmName(algorithm_)}, {"typ", "JWT"}};
  const int64_t iat = absl::ToUnixSeconds(request.issued_at);
  const Json payload = {
      {"iss", request.issuer},
      {"aud", request.audience},
      {"sub", request.principal.subject},
      {"iat", iat},
      {"nbf", iat},
      {"exp", absl::ToUnixSeconds(request.issued_at + request.lifetime)},
      {"roles", roles},
      {"org",
       OrganisationName(request.principal.organisation_type, request.principal.organisation_id)},
      {"la", request.principal.la_code},
  };
  return SignRaw(header.dump(), payload.dump());
}

}  // namespace rooted
