// The shared RPC path, seen from a client written from the protos alone,
// against referral intake in process over a real redis-server: the token is
// checked before the body is parsed, an undecodable body or invalid UTF-8 is
// INVALID_ARGUMENT naming `request` or the field, a record the caller may not
// see is NOT_FOUND like one that does not exist, and every read of personal
// data (refused ones included) is on the audit trail before it is answered.

#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include <future>
#include <random>

#include "common/base/proto_time.h"
#include "common/identity/upn.h"
#include "tests/referral-intake/referral_fixtures.h"
#include "tests/referral-intake/referral_services_stack.h"

namespace rooted::referral {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
namespace cv1 = rooted::common::v1;

constexpr char kGetReferral[] = "/rooted.referral.v1.ReferralService/GetReferral";

class SharedPathTest : public rooted::testing::SharedStackTest<testing::ReferralServicesStack> {
 protected:
  std::string Token(const std::string& subject, Role role, OrganisationType type,
                    const std::string& org, const std::string& la = "801") {
    return stack_->h.tokens.Mint(subject, role, type, org, la, stack_->h.clock.Now());
  }
  std::string School(const std::string& urn) {
    return Token("teacher-1", cv1::ROLE_SCHOOL_STAFF, cv1::ORGANISATION_TYPE_SCHOOL, urn);
  }

  // A call with the body as given, as a client with no generated code makes it.
  grpc::Status RawCall(const std::string& method, const std::string& body,
                       const std::string& token) {
    grpc::GenericStub stub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(stack_->server->port()), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    grpc::Slice slice(body.data(), body.size());
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    std::promise<grpc::Status> done;
    stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                   [&](grpc::Status status) { done.set_value(std::move(status)); });
    return done.get_future().get();
  }

  // `digits`: the UPN's last 12 characters; its check letter is worked out.
  std::string Submit(const std::string& urn, const std::string& request_id,
                     const std::string& digits) {
    v1::SubmitReferralRequest request;
    request.set_request_id(request_id);
    *request.mutable_details() =
        testing::GoodDetails(urn, std::string(1, UpnCheckLetter("A" + digits)) + digits);
    v1::SubmitReferralResponse response;
    const grpc::Status status = stack_->referral_stub->SubmitReferral(
        rooted::testing::AuthedContext(School(urn)).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.referral().referral_id();
  }

  // The newest entries of referral intake's audit trail, newest first, as field maps.
  std::vector<std::map<std::string, std::string>> NewestAudit(int count) {
    absl::StatusOr<RedisReply> reply = stack_->h.redis->Command(
        {"XREVRANGE", "ri:audit", "+", "-", "COUNT", std::to_string(count)});
    std::vector<std::map<std::string, std::string>> entries;
    if (!reply.ok()) return entries;
    for (const RedisReply& entry : reply->elements) {
      std::map<std::string, std::string>& fields = entries.emplace_back();
      const std::vector<RedisReply>& kv = entry.elements[1].elements;
      for (size_t i = 0; i + 1 < kv.size(); i += 2) fields[kv[i].str] = kv[i + 1].str;
    }
    return entries;
  }
};

TEST_F(SharedPathTest, AnUndecodableBodyIsInvalidArgumentNamingRequestOnlyAfterTheToken) {
  const std::string garbage = "\xff\xff\xff\xff\x0f\x01";
  const grpc::Status anonymous = RawCall(kGetReferral, garbage, "");
  EXPECT_EQ(anonymous.error_code(), grpc::UNAUTHENTICATED) << anonymous.error_message();
  const grpc::Status signed_in = RawCall(kGetReferral, garbage, School("100001"));
  EXPECT_EQ(signed_in.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(signed_in.error_message(), StartsWith("request:"));
}

TEST_F(SharedPathTest, InvalidUtf8IsInvalidArgumentNamingTheField) {
  // details (2) { child (1) { given_name (2): "\xc3\x28" } }
  const std::string given_name = std::string("\x12\x02\xc3\x28", 4);
  const std::string child = std::string("\x0a") + char(given_name.size()) + given_name;
  const std::string body =
      std::string("\x0a\x0cutf8-test-01") + "\x12" + char(child.size()) + child;
  const grpc::Status status =
      RawCall("/rooted.referral.v1.ReferralService/SubmitReferral", body, School("100001"));
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("details.child.given_name is not valid UTF-8"));
}

TEST_F(SharedPathTest, RandomBytesWithoutATokenAreOnlyEverUnauthenticated) {
  std::mt19937 random(20261202);
  const std::vector<std::string> methods = {kGetReferral,
                                            "/rooted.referral.v1.ReferralService/SubmitReferral",
                                            "/rooted.referral.v1.ReferralService/ListReferrals",
                                            "/rooted.referral.v1.CaseworkService/GetCasework",
                                            "/rooted.referral.v1.ProgrammeService/GetScreening"};
  for (int i = 0; i < 100; ++i) {
    std::string body(size_t(random() % 64), '\0');
    for (char& c : body) c = char(random() % 256);
    const std::string& method = methods[size_t(i) % methods.size()];
    EXPECT_EQ(RawCall(method, body, "").error_code(), grpc::UNAUTHENTICATED) << method;
  }
}

TEST_F(SharedPathTest, ARecordTheCallerMayNotSeeIsNotFoundLikeOneThatDoesNotExist) {
  const std::string id = Submit("100011", "shared-path-hidden-01", "801200011001");
  v1::GetReferralRequest hidden;
  hidden.set_referral_id(id);
  v1::GetReferralRequest missing;
  missing.set_referral_id("00000000-0000-8000-8000-000000000000");
  v1::GetReferralResponse got;
  const grpc::Status other_school = stack_->referral_stub->GetReferral(
      rooted::testing::AuthedContext(School("100012")).get(), hidden, &got);
  const grpc::Status none = stack_->referral_stub->GetReferral(
      rooted::testing::AuthedContext(School("100012")).get(), missing, &got);
  EXPECT_EQ(other_school.error_code(), grpc::NOT_FOUND);
  EXPECT_EQ(none.error_code(), grpc::NOT_FOUND);
  EXPECT_EQ(other_school.error_message(), none.error_message())
      << "a guessed id must not be confirmed";

  // Casework of another council's partner: the same answer (finding 4).
  v1::GetCaseworkRequest casework;
  casework.set_referral_id(id);
  v1::GetCaseworkResponse read;
  const std::string other_council_partner = Token(
      "lead-z", cv1::ROLE_PROGRAMME_LEAD, cv1::ORGANISATION_TYPE_PARTNER, "youth-trust", "802");
  EXPECT_EQ(stack_->casework_stub
                ->GetCasework(rooted::testing::AuthedContext(other_council_partner).get(), casework,
                              &read)
                .error_code(),
            grpc::NOT_FOUND);
}

TEST_F(SharedPathTest, EveryReadOfPersonalDataIsAuditedRefusedOnesIncluded) {
  const std::string id = Submit("100013", "shared-path-audit-01", "801200013001");
  v1::GetReferralRequest get;
  get.set_referral_id(id);
  get.set_purpose("planning support");
  v1::GetReferralResponse got;
  ASSERT_TRUE(stack_->referral_stub
                  ->GetReferral(rooted::testing::AuthedContext(School("100013")).get(), get, &got)
                  .ok());
  std::vector<std::map<std::string, std::string>> entries = NewestAudit(1);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0]["action"], "GetReferral");
  EXPECT_EQ(entries[0]["record_id"], id);
  EXPECT_EQ(entries[0]["purpose"], "planning support");
  EXPECT_EQ(entries[0]["org"], "school:100013");
  EXPECT_EQ(entries[0].count("outcome"), 0u) << "an entry without an outcome was OK";
  EXPECT_EQ(entries[0]["pupil_refs"], got.referral().pupil_ref().value());

  EXPECT_EQ(stack_->referral_stub
                ->GetReferral(rooted::testing::AuthedContext(School("100014")).get(), get, &got)
                .error_code(),
            grpc::NOT_FOUND);
  entries = NewestAudit(1);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0]["action"], "GetReferral");
  EXPECT_EQ(entries[0]["org"], "school:100014");
  EXPECT_EQ(entries[0]["outcome"], "NOT_FOUND");
  // The trail names the child the refused read was about (the caller learnt
  // nothing), so the officer's question about the child finds it.
  EXPECT_EQ(entries[0]["pupil_refs"], got.referral().pupil_ref().value());

  // A role the rule does not grant is refused before the request is read, and recorded.
  const std::string approver =
      Token("approver-1", cv1::ROLE_FUND_APPROVER, cv1::ORGANISATION_TYPE_COUNCIL, "801");
  EXPECT_EQ(
      stack_->referral_stub->GetReferral(rooted::testing::AuthedContext(approver).get(), get, &got)
          .error_code(),
      grpc::PERMISSION_DENIED);
  entries = NewestAudit(1);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0]["role"], "fund_approver");
  EXPECT_EQ(entries[0]["outcome"], "PERMISSION_DENIED");
}

// Finding 11: the council's data protection officer reads each service's
// trail by child, by actor and by period, a page at a time; nobody else may,
// and the officer's own reads are on the trail too.
TEST_F(SharedPathTest, TheDataProtectionOfficerReadsTheTrailAndIsAuditedDoingSo) {
  namespace av1 = rooted::audit::v1;
  const absl::Time before = absl::Now();
  const std::string id = Submit("100015", "shared-path-dpo-01", "801200015001");
  v1::GetReferralRequest get;
  get.set_referral_id(id);
  get.set_purpose("planning support");
  v1::GetReferralResponse got;
  ASSERT_TRUE(stack_->referral_stub
                  ->GetReferral(rooted::testing::AuthedContext(School("100015")).get(), get, &got)
                  .ok());
  const std::string child = got.referral().pupil_ref().value();
  // Someone from another school tries the same record.
  ASSERT_EQ(stack_->referral_stub
                ->GetReferral(rooted::testing::AuthedContext(School("100016")).get(), get, &got)
                .error_code(),
            grpc::NOT_FOUND);

  const std::string officer =
      Token("dpo-1", cv1::ROLE_DATA_PROTECTION_OFFICER, cv1::ORGANISATION_TYPE_COUNCIL, "801");
  av1::ListAuditEntriesRequest ask;
  ask.mutable_pupil_ref()->set_value(child);
  ask.set_purpose("SAR-2026-0042");
  av1::ListAuditEntriesResponse trail;
  ASSERT_TRUE(stack_->audit_stub
                  ->ListAuditEntries(rooted::testing::AuthedContext(officer).get(), ask, &trail)
                  .ok());
  std::vector<std::string> seen;
  for (const av1::AuditRecord& e : trail.entries()) {
    EXPECT_EQ(e.service(), "referral-intake");
    EXPECT_THAT(e.pupil_refs(), ::testing::Contains(child));
    seen.push_back(absl::StrCat(e.action(), " ", e.actor_organisation(), " ", e.outcome()));
  }
  EXPECT_THAT(seen, ::testing::IsSupersetOf(
                        {"GetReferral school:100015 OK", "GetReferral school:100016 NOT_FOUND"}));
  EXPECT_TRUE(trail.next_page_token().empty());

  // A page at a time, in the order written.
  ask.mutable_page()->set_page_size(1);
  av1::ListAuditEntriesResponse first, second;
  ASSERT_TRUE(stack_->audit_stub
                  ->ListAuditEntries(rooted::testing::AuthedContext(officer).get(), ask, &first)
                  .ok());
  ASSERT_EQ(first.entries_size(), 1);
  ASSERT_FALSE(first.next_page_token().empty());
  ask.mutable_page()->set_page_token(first.next_page_token());
  ASSERT_TRUE(stack_->audit_stub
                  ->ListAuditEntries(rooted::testing::AuthedContext(officer).get(), ask, &second)
                  .ok());
  ASSERT_EQ(second.entries_size(), 1);
  EXPECT_LT(first.entries(0).entry_id(), second.entries(0).entry_id());

  // By actor and period: the other school's attempt alone.
  av1::ListAuditEntriesRequest by_actor;
  by_actor.set_actor_subject("teacher-1");
  *by_actor.mutable_from() = ToProtoTimestamp(before);
  av1::ListAuditEntriesResponse theirs;
  ASSERT_TRUE(
      stack_->audit_stub
          ->ListAuditEntries(rooted::testing::AuthedContext(officer).get(), by_actor, &theirs)
          .ok());
  EXPECT_GE(theirs.entries_size(), 2);
  for (const av1::AuditRecord& e : theirs.entries()) EXPECT_EQ(e.actor_subject(), "teacher-1");
  *by_actor.mutable_to() = ToProtoTimestamp(before);
  av1::ListAuditEntriesResponse backwards;
  EXPECT_EQ(
      stack_->audit_stub
          ->ListAuditEntries(rooted::testing::AuthedContext(officer).get(), by_actor, &backwards)
          .error_code(),
      grpc::INVALID_ARGUMENT);

  // Another council's officer reads none of this council's entries.
  const std::string other_officer = Token("dpo-2", cv1::ROLE_DATA_PROTECTION_OFFICER,
                                          cv1::ORGANISATION_TYPE_COUNCIL, "802", "802");
  av1::ListAuditEntriesResponse elsewhere;
  ASSERT_TRUE(
      stack_->audit_stub
          ->ListAuditEntries(rooted::testing::AuthedContext(other_officer).get(), ask, &elsewhere)
          .ok());
  EXPECT_EQ(elsewhere.entries_size(), 0);

  // Nobody else reads the trail, a council officer included.
  const std::string council =
      Token("officer-1", cv1::ROLE_COUNCIL_OFFICER, cv1::ORGANISATION_TYPE_COUNCIL, "801");
  EXPECT_EQ(stack_->audit_stub
                ->ListAuditEntries(rooted::testing::AuthedContext(council).get(), ask, &trail)
                .error_code(),
            grpc::PERMISSION_DENIED);
  ask.mutable_page()->set_page_token("not-a-token");
  EXPECT_EQ(stack_->audit_stub
                ->ListAuditEntries(rooted::testing::AuthedContext(officer).get(), ask, &trail)
                .error_code(),
            grpc::INVALID_ARGUMENT);

  // The officer's own reads are on the trail, with the child and the reason.
  av1::ListAuditEntriesRequest own;
  own.set_actor_subject("dpo-1");
  av1::ListAuditEntriesResponse audited;
  ASSERT_TRUE(stack_->audit_stub
                  ->ListAuditEntries(rooted::testing::AuthedContext(officer).get(), own, &audited)
                  .ok());
  ASSERT_GE(audited.entries_size(), 1);
  EXPECT_EQ(audited.entries(0).action(), "ListAuditEntries");
  EXPECT_EQ(audited.entries(0).purpose(), "SAR-2026-0042");
  EXPECT_THAT(audited.entries(0).pupil_refs(), ::testing::ElementsAre(child));
}

}  // namespace
}  // namespace rooted::referral
