#include "common/auth/jwt.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

namespace rooted {
namespace {

namespace cv1 = rooted::common::v1;
const std::string kSecret(40, 's');
const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

Principal Teacher() {
  Principal p;
  p.subject = "teacher-1";
  p.roles = {cv1::ROLE_SCHOOL_STAFF};
  p.organisation_type = cv1::ORGANISATION_TYPE_SCHOOL;
  p.organisation_id = "100001";
  p.la_code = "801";
  return p;
}

TokenRequest Request(absl::Time issued = kNow) {
  return TokenRequest{Teacher(), "rooted-local", "rooted", issued, absl::Hours(1)};
}

// A fresh RSA key pair as PEM (private, public).
std::pair<std::string, std::string> RsaKeys() {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  BIO* priv = BIO_new(BIO_s_mem());
  BIO* pub = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(priv, key, nullptr, nullptr, 0, nullptr, nullptr);
  PEM_write_bio_PUBKEY(pub, key);
  auto read = [](BIO* bio) {
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<size_t>(len));
  };
  std::pair<std::string, std::string> out{read(priv), read(pub)};
  BIO_free(priv);
  BIO_free(pub);
  EVP_PKEY_free(key);
  return out;
}

class JwtTest : public ::testing::Test {
 protected:
  FakeClock clock_{kNow};
  std::unique_ptr<JwtVerifier> Hs256Verifier() {
    return *JwtVerifier::Create({JwtAlgorithm::kHs256, kSecret, "rooted-local", "rooted"}, clock_);
  }
};

TEST_F(JwtTest, AcceptsAGoodTokenAndReadsThePrincipal) {
  auto signer = *JwtSigner::Create(JwtAlgorithm::kHs256, kSecret);
  absl::StatusOr<Principal> p = Hs256Verifier()->Verify(*signer->Sign(Request()));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->subject, "teacher-1");
  EXPECT_TRUE(p->IsSchool("100001"));
  EXPECT_EQ(p->la_code, "801");
  EXPECT_TRUE(p->HasRole(cv1::ROLE_SCHOOL_STAFF));
}

TEST_F(JwtTest, RejectsAlgNone) {
  auto signer = *JwtSigner::Create(JwtAlgorithm::kHs256, kSecret);
  std::string token = *signer->Sign(Request());
  const std::string payload =
      token.substr(token.find('.') + 1, token.rfind('.') - token.find('.') - 1);
  const std::string none = Base64UrlEncode(R"({"alg":"none","typ":"JWT"})") + "." + payload + ".";
  absl::StatusOr<Principal> p = Hs256Verifier()->Verify(none);
  EXPECT_EQ(p.status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(JwtTest, RejectsHs256SignedWithTheRsaPublicKeyWhereRs256IsConfigured) {
  auto [private_pem, public_pem] = RsaKeys();
  auto verifier =
      *JwtVerifier::Create({JwtAlgorithm::kRs256, public_pem, "rooted-local", "rooted"}, clock_);
  // The classic confusion attack: HMAC keyed with the (public) RSA key bytes.
  auto forger = *JwtSigner::Create(JwtAlgorithm::kHs256, public_pem);
  absl::StatusOr<Principal> forged = verifier->Verify(*forger->Sign(Request()));
  EXPECT_EQ(forged.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(forged.status().message().find("algorithm"), absl::string_view::npos);
  auto signer = *JwtSigner::Create(JwtAlgorithm::kRs256, private_pem);
  EXPECT_TRUE(verifier->Verify(*signer->Sign(Request())).ok());
}

TEST_F(JwtTest, RejectsRs256WhereHs256IsConfigured) {
  auto [private_pem, public_pem] = RsaKeys();
  auto signer = *JwtSigner::Create(JwtAlgorithm::kRs256, private_pem);
  EXPECT_EQ(Hs256Verifier()->Verify(*signer->Sign(Request())).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(JwtTest, ChecksExpiryNotBeforeIssuerAudienceAndSignature) {
  auto signer = *JwtSigner::Create(JwtAlgorithm::kHs256, kSecret);
  auto verifier = Hs256Verifier();
  EXPECT_FALSE(verifier->Verify(*signer->Sign(Request(kNow - absl::Hours(2)))).ok()) << "expired";
  EXPECT_FALSE(verifier->Verify(*signer->Sign(Request(kNow + absl::Hours(1)))).ok()) << "nbf";
  TokenRequest wrong_iss = Request();
  wrong_iss.issuer = "someone-else";
  EXPECT_FALSE(verifier->Verify(*signer->Sign(wrong_iss)).ok());
  TokenRequest wrong_aud = Request();
  wrong_aud.audience = "other";
  EXPECT_FALSE(verifier->Verify(*signer->Sign(wrong_aud)).ok());
  auto other = *JwtSigner::Create(JwtAlgorithm::kHs256, std::string(40, 'x'));
  EXPECT_FALSE(verifier->Verify(*other->Sign(Request())).ok()) << "wrong key";
  std::string token = *signer->Sign(Request());
  token[token.size() - 3] = token[token.size() - 3] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(verifier->Verify(token).ok()) << "tampered";
  EXPECT_FALSE(verifier->Verify("not.a.token").ok());
  EXPECT_FALSE(verifier->Verify("").ok());
}

TEST_F(JwtTest, ARememberedTokenIsStillRefusedOnceItExpires) {
  auto signer = *JwtSigner::Create(JwtAlgorithm::kHs256, kSecret);
  auto verifier = Hs256Verifier();
  const std::string token = *signer->Sign(Request());
  ASSERT_TRUE(verifier->Verify(token).ok());
  ASSERT_TRUE(verifier->Verify(token).ok()) << "remembered";
  clock_.Advance(absl::Hours(1) + absl::Minutes(1));
  const absl::StatusOr<Principal> late = verifier->Verify(token);
  EXPECT_EQ(late.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(std::string(late.status().message()).find("expired"), std::string::npos);
}

TEST_F(JwtTest, ATamperedCopyOfARememberedTokenIsCheckedInFull) {
  auto signer = *JwtSigner::Create(JwtAlgorithm::kHs256, kSecret);
  auto verifier = Hs256Verifier();
  const std::string token = *signer->Sign(Request());
  ASSERT_TRUE(verifier->Verify(token).ok());
  std::string tampered = token;
  tampered[tampered.size() - 3] = tampered[tampered.size() - 3] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(verifier->Verify(tampered).ok());
  EXPECT_FALSE(verifier->Verify(token + "x").ok());
  EXPECT_TRUE(verifier->Verify(token).ok());
}

TEST_F(JwtTest, ManyDistinctTokensNeitherFailNorGrowWithoutLimit) {
  auto signer = *JwtSigner::Create(JwtAlgorithm::kHs256, kSecret);
  auto verifier = Hs256Verifier();
  for (size_t i = 0; i < JwtVerifier::kRememberedTokens + 10; ++i) {
    TokenRequest request = Request();
    request.principal.subject = "teacher-" + std::to_string(i);
    const absl::StatusOr<Principal> who = verifier->Verify(*signer->Sign(request));
    ASSERT_TRUE(who.ok()) << i;
    ASSERT_EQ(who->subject, request.principal.subject);
  }
}

TEST_F(JwtTest, RejectsTokensWithoutRolesOrWithABadOrganisation) {
  auto signer = *JwtSigner::Create(JwtAlgorithm::kHs256, kSecret);
  const std::string header = R"({"alg":"HS256","typ":"JWT"})";
  const std::string base =
      R"("iss":"rooted-local","aud":"rooted","sub":"u","exp":1800003600,"la":"801")";
  for (const std::string& body : {
           "{" + base + R"(,"org":"school:100001"})",
           "{" + base + R"(,"roles":["wizard"],"org":"school:100001"})",
           "{" + base + R"(,"roles":["school_staff"],"org":"school:12"})",
           "{" + base + R"(,"roles":["school_staff"]})",
       }) {
    EXPECT_EQ(Hs256Verifier()->Verify(*signer->SignRaw(header, body)).status().code(),
              absl::StatusCode::kUnauthenticated)
        << body;
  }
}

TEST(Base64UrlTest, RoundTripsAndIsStrict) {
  for (std::string s : {"", "a", "ab", "abc", "abcd", "\xff\xfe\x00\x01"}) {
    EXPECT_EQ(*Base64UrlDecode(Base64UrlEncode(s)), s);
  }
  EXPECT_FALSE(Base64UrlDecode("ab=").ok());
  EXPECT_FALSE(Base64UrlDecode("a").ok());
  EXPECT_FALSE(Base64UrlDecode("ab+/").ok());
}

}  // namespace
}  // namespace rooted
