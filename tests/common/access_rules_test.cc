// Every RPC of every service has one whole access rule, and the shared path's
// pieces decide as the rules say: forum seats by subject, organisation and
// role together; a record outside the caller's scope is NOT_FOUND; a body
// that does not decode names `request` or the field with invalid UTF-8.

#include <gmock/gmock.h>
#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include "common/auth/school_register.h"
#include "common/server/access_policy.h"
#include "common/server/message_fields.h"
#include "rooted/directory/v1/directory.pb.h"
#include "rooted/fund/v1/fund.pb.h"
#include "rooted/referral/v1/referral.pb.h"
#include "rooted/risk/v1/risk.pb.h"
#include "tools/access/access_table.h"

namespace rooted {
namespace {

namespace cv1 = rooted::common::v1;
using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(AccessRulesTest, EveryRpcOfEveryServiceHasAWholeAccessRule) {
  int methods = 0;
  for (const google::protobuf::FileDescriptor* file : ApiFiles()) {
    for (int s = 0; s < file->service_count(); ++s) {
      const google::protobuf::ServiceDescriptor* service = file->service(s);
      for (int m = 0; m < service->method_count(); ++m) {
        const google::protobuf::MethodDescriptor* method = service->method(m);
        ++methods;
        ASSERT_TRUE(method->options().HasExtension(cv1::access))
            << method->full_name() << " has no access rule";
        const absl::Status whole = ValidateRule(method->options().GetExtension(cv1::access));
        EXPECT_TRUE(whole.ok()) << method->full_name() << ": " << whole;
      }
    }
  }
  EXPECT_EQ(methods, 73) << "a new RPC: give it its rule, and its rows in the access matrix";
}

Principal Caller(const std::string& subject, Role role, cv1::OrganisationType type,
                 const std::string& id, const std::string& la = "801") {
  return Principal{subject, {role}, type, id, la};
}

AccessRule RunsForumRule() {
  AccessRule rule;
  cv1::AccessGrant* grant = rule.add_grants();
  grant->add_roles(cv1::ROLE_FORUM_COORDINATOR);
  grant->add_roles(cv1::ROLE_SCHOOL_STAFF);
  grant->set_scope(cv1::ACCESS_SCOPE_FORUM_RUNS);
  rule.mutable_record()->set_kind("forum");
  rule.mutable_record()->set_field("forum_id");
  return rule;
}

TEST(AccessPolicyTest, AForumSeatNeedsTheSubjectTheOrganisationAndTheRoleTogether) {
  RecordOwner forum;
  forum.la_code = "801";
  forum.seats.push_back({"coordinator-1",
                         cv1::ORGANISATION_TYPE_COUNCIL,
                         "801",
                         {cv1::ROLE_FORUM_COORDINATOR},
                         true});
  const AccessRule rule = RunsForumRule();
  EXPECT_TRUE(CheckScope(rule,
                         Caller("coordinator-1", cv1::ROLE_FORUM_COORDINATOR,
                                cv1::ORGANISATION_TYPE_COUNCIL, "801"),
                         &forum)
                  .ok());
  // The coordinator's subject on another school's staff token (finding 1).
  const absl::Status borrowed = CheckScope(
      rule,
      Caller("coordinator-1", cv1::ROLE_SCHOOL_STAFF, cv1::ORGANISATION_TYPE_SCHOOL, "100002"),
      &forum);
  EXPECT_TRUE(absl::IsNotFound(borrowed)) << borrowed;
  // ...and from another council's organisation.
  EXPECT_TRUE(absl::IsNotFound(CheckScope(rule,
                                          Caller("coordinator-1", cv1::ROLE_FORUM_COORDINATOR,
                                                 cv1::ORGANISATION_TYPE_COUNCIL, "802", "802"),
                                          &forum)));
}

TEST(AccessPolicyTest, APartnerSeesOnlyCasesAllocatedToItInItsOwnCouncil) {
  AccessRule rule;
  cv1::AccessGrant* grant = rule.add_grants();
  grant->add_roles(cv1::ROLE_PROGRAMME_LEAD);
  grant->set_scope(cv1::ACCESS_SCOPE_ALLOCATED_PARTNER);
  rule.mutable_record()->set_kind("referral");
  rule.mutable_record()->set_field("referral_id");
  RecordOwner referral;
  referral.la_code = "801";
  referral.school_urn = "100001";
  referral.partner_ids = {"youth-trust"};
  EXPECT_TRUE(CheckScope(rule,
                         Caller("lead-1", cv1::ROLE_PROGRAMME_LEAD, cv1::ORGANISATION_TYPE_PARTNER,
                                "youth-trust"),
                         &referral)
                  .ok());
  const absl::Status other_council =
      CheckScope(rule,
                 Caller("lead-1", cv1::ROLE_PROGRAMME_LEAD, cv1::ORGANISATION_TYPE_PARTNER,
                        "youth-trust", "802"),
                 &referral);
  EXPECT_TRUE(absl::IsNotFound(other_council));
  EXPECT_THAT(std::string(other_council.message()), StartsWith("referral_id:"));
  EXPECT_TRUE(absl::IsNotFound(CheckScope(
      rule,
      Caller("lead-2", cv1::ROLE_PROGRAMME_LEAD, cv1::ORGANISATION_TYPE_PARTNER, "other-charity"),
      &referral)));
}

TEST(AccessPolicyTest, AnotherSchoolNamedInTheRequestIsRefusedNamingTheField) {
  AccessRule rule;
  cv1::AccessGrant* grant = rule.add_grants();
  grant->add_roles(cv1::ROLE_SCHOOL_STAFF);
  grant->set_scope(cv1::ACCESS_SCOPE_OWN_SCHOOL);
  rule.set_school_field("school_urn");
  const Principal teacher =
      Caller("teacher-1", cv1::ROLE_SCHOOL_STAFF, cv1::ORGANISATION_TYPE_SCHOOL, "100001");
  EXPECT_TRUE(CheckScope(rule, teacher, nullptr, {"100001", ""}).ok());
  EXPECT_TRUE(CheckScope(rule, teacher, nullptr).ok()) << "empty is the caller's own";
  const absl::Status other = CheckScope(rule, teacher, nullptr, {"100002", ""});
  EXPECT_TRUE(absl::IsPermissionDenied(other));
  EXPECT_THAT(std::string(other.message()), StartsWith("school_urn:"));
  EXPECT_TRUE(absl::IsPermissionDenied(CheckRoles(
      rule, Caller("x", cv1::ROLE_FINANCE_OFFICER, cv1::ORGANISATION_TYPE_COUNCIL, "801"),
      "ListAtRisk")));
}

// Finding: another council's officer submitted a referral for a school of
// council 801, filed under their council and shown to the school's staff.
TEST(AccessPolicyTest, ACouncilOfficerActsOnlyForTheSchoolsTheRegisterListsUnderTheirCouncil) {
  AccessRule rule;
  cv1::AccessGrant* grant = rule.add_grants();
  grant->add_roles(cv1::ROLE_COUNCIL_OFFICER);
  grant->set_scope(cv1::ACCESS_SCOPE_OWN_COUNCIL);
  grant = rule.add_grants();
  grant->add_roles(cv1::ROLE_SCHOOL_STAFF);
  grant->set_scope(cv1::ACCESS_SCOPE_OWN_SCHOOL);
  rule.set_school_field("details.child.school_urn");
  const Principal officer =
      Caller("officer-1", cv1::ROLE_COUNCIL_OFFICER, cv1::ORGANISATION_TYPE_COUNCIL, "801");
  const Principal other_officer =
      Caller("officer-2", cv1::ROLE_COUNCIL_OFFICER, cv1::ORGANISATION_TYPE_COUNCIL, "802", "802");
  EXPECT_TRUE(CheckScope(rule, officer, nullptr, {"100001", "801"}).ok());
  EXPECT_TRUE(CheckScope(rule, officer, nullptr).ok()) << "no school named: the whole council";
  const absl::Status other = CheckScope(rule, other_officer, nullptr, {"100001", "801"});
  EXPECT_TRUE(absl::IsPermissionDenied(other));
  EXPECT_THAT(std::string(other.message()),
              StartsWith("details.child.school_urn: not a school of council 802"));
  const absl::Status unlisted = CheckScope(rule, officer, nullptr, {"100009", ""});
  EXPECT_TRUE(absl::IsPermissionDenied(unlisted))
      << "a school the register does not list is no council's";
  EXPECT_THAT(std::string(unlisted.message()), HasSubstr("does not list it"));

  const Principal teacher =
      Caller("teacher-1", cv1::ROLE_SCHOOL_STAFF, cv1::ORGANISATION_TYPE_SCHOOL, "100001");
  EXPECT_TRUE(CheckScope(rule, teacher, nullptr, {"100001", "801"}).ok());
  EXPECT_TRUE(CheckScope(rule, teacher, nullptr, {"100001", ""}).ok())
      << "unlisted: the token's school";
  EXPECT_TRUE(absl::IsPermissionDenied(CheckScope(
      rule,
      Caller("teacher-2", cv1::ROLE_SCHOOL_STAFF, cv1::ORGANISATION_TYPE_SCHOOL, "100001", "802"),
      nullptr, {"100001", "801"})))
      << "a token naming a school of 801 and council 802";
}

TEST(SchoolRegisterTest, ReadsAGiasExtractByItsColumnNames) {
  absl::StatusOr<SchoolRegister> reg = SchoolRegister::Parse(
      "URN,EstablishmentName,LA (code),LA (name)\r\n"
      "100001,\"St Mary's, Church of England\",801,Bristol\r\n"
      "\n"
      "100002,Hillside Academy,802,North Somerset\n");
  ASSERT_TRUE(reg.ok()) << reg.status();
  EXPECT_EQ(reg->size(), 2u);
  EXPECT_EQ(reg->CouncilOf("100001"), "801");
  EXPECT_EQ(reg->CouncilOf("100002"), "802");
  EXPECT_EQ(reg->CouncilOf("100003"), std::nullopt);
  ASSERT_TRUE(SchoolRegister::Parse("urn,la_code\n100001,801\n").ok());
}

TEST(SchoolRegisterTest, RefusesARegisterItCannotTrustNamingTheLine) {
  const auto message = [](absl::string_view csv) {
    return std::string(SchoolRegister::Parse(csv).status().message());
  };
  EXPECT_THAT(message("urn,name\n100001,x\n"), HasSubstr("header"));
  EXPECT_THAT(message("urn,la_code\n10001,801\n"), StartsWith("line 2: the URN"));
  EXPECT_THAT(message("urn,la_code\n100001,8O1\n"), StartsWith("line 2: the LA code"));
  EXPECT_THAT(message("urn,la_code\n100001\n"), StartsWith("line 2: too few"));
  EXPECT_THAT(message("urn,la_code\n\"100001,801\n"), HasSubstr("quote"));
  EXPECT_THAT(message("urn,la_code\n100001,801\n100001,802\n"),
              StartsWith("line 3: URN 100001 is listed under councils 801 and 802"));
  EXPECT_THAT(message(""), HasSubstr("no header"));
}

TEST(MessageFieldsTest, TheFieldWithInvalidUtf8IsNamedByItsPath) {
  rooted::referral::v1::SubmitReferralRequest request;
  request.set_request_id("r-1");
  request.mutable_details()->mutable_child()->set_upn("H801200001001");
  std::string bytes = request.SerializeAsString();
  // Append details.child.given_name = "\xc3\x28" as a second details field: merged on parse.
  const std::string given_name = std::string("\x12\x02\xc3\x28", 4);
  const std::string child = std::string("\x0a") + char(given_name.size()) + given_name;
  bytes += std::string("\x12") + char(child.size()) + child;
  EXPECT_EQ(FindInvalidUtf8Field(*request.GetDescriptor(), bytes), "details.child.given_name");
  EXPECT_EQ(FindInvalidUtf8Field(*request.GetDescriptor(), request.SerializeAsString()), "");
}

TEST(MessageFieldsTest, PupilRefsAreFoundAtAnyDepth) {
  rooted::risk::v1::ListAtRiskResponse response;
  response.add_profiles()->mutable_pupil_ref()->set_value("pr_a");
  response.add_profiles()->mutable_pupil_ref()->set_value("pr_b");
  std::vector<std::string> refs;
  CollectPupilRefs(response, refs);
  EXPECT_THAT(refs, ::testing::ElementsAre("pr_a", "pr_b"));
  EXPECT_FALSE(CanHoldPupilRef(*rooted::directory::v1::ListTaxonomyTermsResponse::descriptor()));
}

TEST(MessageFieldsTest, StringsAreReadByDottedPath) {
  rooted::fund::v1::SubmitFundRequestRequest request;
  request.mutable_fund_request()->set_referral_id("ref-1");
  EXPECT_EQ(StringAt(request, "fund_request.referral_id"), "ref-1");
  EXPECT_EQ(StringAt(request, "fund_request.nothing"), "");
  EXPECT_EQ(StringAt(request, "client_request_id"), "");
}

}  // namespace
}  // namespace rooted
