// Programme leads' caseloads against a real redis-server: allocation within a
// lead's limit (FAILED_PRECONDITION when full), moving a case, the lead's
// contacts, goals, progress and feedback, who may read them, the lead
// closing the case, and bad input named by field.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/base/proto_date.h"
#include "common/identity/pupil_ref.h"
#include "common/identity/upn.h"
#include "rooted/referral/v1/referral_events.pb.h"
#include "tests/referral-intake/referral_fixtures.h"
#include "tests/referral-intake/referral_services_stack.h"

namespace rooted::referral {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
namespace cv1 = rooted::common::v1;


class CaseworkTest : public rooted::testing::SharedStackTest<testing::ReferralServicesStack> {
 protected:
  v1::CaseworkService::Stub& casework() { return *stack_->casework_stub; }
  std::unique_ptr<grpc::ClientContext> As(const std::string& token) { return rooted::testing::AuthedContext(token); }
  std::string Token(const std::string& subject, Role role, OrganisationType type, const std::string& org) {
    return stack_->h.tokens.Mint(subject, role, type, org, "801", stack_->h.clock.Now());
  }
  std::string Coordinator() {
    return Token("coordinator-1", cv1::ROLE_FORUM_COORDINATOR, cv1::ORGANISATION_TYPE_COUNCIL, "801");
  }
  std::string Lead(const std::string& subject, const std::string& partner) {
    return Token(subject, cv1::ROLE_PROGRAMME_LEAD, cv1::ORGANISATION_TYPE_PARTNER, partner);
  }
  std::string School(const std::string& urn) {
    return Token("teacher-1", cv1::ROLE_SCHOOL_STAFF, cv1::ORGANISATION_TYPE_SCHOOL, urn);
  }

  // A valid UPN (check letter computed) from its twelve digits.
  static std::string Upn(const std::string& digits) { return std::string(1, UpnCheckLetter("A" + digits)) + digits; }

  std::string Refer(const std::string& urn, const std::string& digits, const std::string& request_id) {
    const std::string upn = Upn(digits);
    v1::SubmitReferralRequest request;
    request.set_request_id(request_id);
    *request.mutable_details() = testing::GoodDetails(urn, upn);
    v1::SubmitReferralResponse response;
    const grpc::Status status = stack_->referral_stub->SubmitReferral(As(School(urn)).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.referral().referral_id();
  }

  grpc::Status Capacity(const std::string& token, const std::string& request_id, const std::string& lead,
                        const std::string& partner, int limit) {
    v1::SetLeadCapacityRequest request;
    request.set_request_id(request_id);
    request.set_lead_subject(lead);
    request.set_partner_id(partner);
    request.set_caseload_limit(limit);
    v1::SetLeadCapacityResponse response;
    return casework().SetLeadCapacity(As(token).get(), request, &response);
  }

  grpc::Status Allocate(const std::string& request_id, const std::string& referral, const std::string& lead,
                        v1::AllocateLeadResponse* response, const std::string& reason = "forum decision 7 Oct") {
    v1::AllocateLeadRequest request;
    request.set_request_id(request_id);
    request.set_referral_id(referral);
    request.set_lead_subject(lead);
    request.set_reason(reason);
    return casework().AllocateLead(As(Coordinator()).get(), request, response);
  }

  std::vector<std::string> Caseload(const std::string& token, const std::string& partner, const std::string& lead) {
    v1::ListCaseloadsRequest request;
    request.set_partner_id(partner);
    v1::ListCaseloadsResponse response;
    EXPECT_TRUE(casework().ListCaseloads(As(token).get(), request, &response).ok());
    for (const v1::LeadCaseload& c : response.caseloads()) {
      if (c.lead_subject() == lead) return {c.referral_ids().begin(), c.referral_ids().end()};
    }
    return {};
  }

  cv1::Date Today(int days_ago = 0) {
    return ToProtoDate(absl::ToCivilDay(stack_->h.clock.Now(), absl::UTCTimeZone()) - days_ago);
  }
};

TEST_F(CaseworkTest, CoordinatorsAllocateWithinEachLeadsCaseload) {
  const std::string r1 = Refer("100031", "801200001001", "cw-refer-0001");
  const std::string r2 = Refer("100031", "801200002001", "cw-refer-0002");
  const std::string r3 = Refer("100032", "801200003001", "cw-refer-0003");

  EXPECT_EQ(Capacity(School("100031"), "cw-cap-0000", "lead-a", "youth-trust", 2).error_code(),
            grpc::PERMISSION_DENIED);
  grpc::Status bad_limit = Capacity(Coordinator(), "cw-cap-0001", "lead-a", "youth-trust", 0);
  EXPECT_EQ(bad_limit.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(bad_limit.error_message(), StartsWith("caseload_limit:"));
  ASSERT_TRUE(Capacity(Coordinator(), "cw-cap-0002", "lead-a", "youth-trust", 2).ok());
  ASSERT_TRUE(Capacity(Coordinator(), "cw-cap-0003", "lead-b", "family-charity", 5).ok());

  v1::AllocateLeadResponse allocated;
  grpc::Status unknown = Allocate("cw-alloc-0000", r1, "lead-z", &allocated);
  EXPECT_EQ(unknown.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_THAT(unknown.error_message(), StartsWith("lead_subject:"));
  grpc::Status no_reason = Allocate("cw-alloc-0009", r1, "lead-a", &allocated, "");
  EXPECT_EQ(no_reason.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(no_reason.error_message(), StartsWith("reason:"));
  ASSERT_TRUE(Allocate("cw-alloc-0001", r1, "lead-a", &allocated).ok());
  EXPECT_EQ(allocated.casework().allocation().partner_id(), "youth-trust");
  ASSERT_TRUE(Allocate("cw-alloc-0002", r2, "lead-a", &allocated).ok());
  // Full: the third is refused and nothing changes.
  grpc::Status full = Allocate("cw-alloc-0003", r3, "lead-a", &allocated);
  EXPECT_EQ(full.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_THAT(full.error_message(), HasSubstr("caseload full (2 open cases of 2)"));
  EXPECT_THAT(Caseload(Coordinator(), "", "lead-a"), ::testing::UnorderedElementsAre(r1, r2));

  // Another council's coordinator sees none of this council's leads and allocates none of its cases.
  const std::string other_council = stack_->h.tokens.Mint("coordinator-9", cv1::ROLE_FORUM_COORDINATOR,
                                                          cv1::ORGANISATION_TYPE_COUNCIL, "802", "802",
                                                          stack_->h.clock.Now());
  EXPECT_TRUE(Caseload(other_council, "", "lead-a").empty());
  v1::AllocateLeadRequest foreign;
  foreign.set_request_id("cw-alloc-0802");
  foreign.set_referral_id(r3);
  foreign.set_lead_subject("lead-a");
  foreign.set_reason("another council");
  EXPECT_EQ(casework().AllocateLead(As(other_council).get(), foreign, &allocated).error_code(),
            grpc::NOT_FOUND);

  // The partner sees its own caseloads, not another's.
  EXPECT_THAT(Caseload(Lead("lead-a", "youth-trust"), "", "lead-a"), ::testing::UnorderedElementsAre(r1, r2));
  v1::ListCaseloadsRequest other;
  other.set_partner_id("youth-trust");
  v1::ListCaseloadsResponse listed;
  EXPECT_EQ(casework().ListCaseloads(As(Lead("lead-b", "family-charity")).get(), other, &listed).error_code(),
            grpc::PERMISSION_DENIED);

  // The lead closes a case (its organisation may now see the referral): a place frees up.
  v1::CloseCaseRequest close;
  close.set_request_id("cw-close-0001");
  close.set_referral_id(r1);
  close.set_outcome(v1::CASE_OUTCOME_SUSTAINED_ATTENDANCE);
  close.set_note("Back in school four weeks, attendance 96%");
  v1::CloseCaseResponse closed;
  EXPECT_EQ(
      stack_->referral_stub->CloseCase(As(Lead("lead-b", "family-charity")).get(), close, &closed)
          .error_code(),
      grpc::NOT_FOUND);
  ASSERT_TRUE(stack_->referral_stub->CloseCase(As(Lead("lead-a", "youth-trust")).get(), close, &closed).ok());
  ASSERT_TRUE(Allocate("cw-alloc-0004", r3, "lead-a", &allocated).ok());
  EXPECT_THAT(Caseload(Coordinator(), "", "lead-a"), ::testing::UnorderedElementsAre(r2, r3));

  // Moving a case: off one caseload, onto another, the earlier allocation kept.
  ASSERT_TRUE(Allocate("cw-alloc-0005", r2, "lead-b", &allocated).ok());
  EXPECT_EQ(allocated.casework().allocation().lead_subject(), "lead-b");
  ASSERT_EQ(allocated.casework().previous_allocations_size(), 1);
  EXPECT_EQ(allocated.casework().previous_allocations(0).lead_subject(), "lead-a");
  EXPECT_THAT(Caseload(Coordinator(), "", "lead-a"), ::testing::UnorderedElementsAre(r3));
  EXPECT_THAT(Caseload(Coordinator(), "", "lead-b"), ::testing::UnorderedElementsAre(r2));
  // Each allocation is an event on the case (for its timeline), keyed by the pupil reference.
  auto events = stack_->h.redis->Command({"XRANGE", "ri:outbox", "-", "+"});
  ASSERT_TRUE(events.ok());
  int allocations = 0;
  for (const RedisReply& entry : events->elements) {
    for (const RedisReply& field : entry.elements[1].elements) {
      v1::ReferralEvent event;
      if (event.ParseFromString(field.str) && event.has_lead_allocated()) ++allocations;
    }
  }
  EXPECT_EQ(allocations, 4);
}

TEST_F(CaseworkTest, TheLeadRecordsTheWorkAndOnlyTheirOrganisationAndCoordinatorsReadIt) {
  const std::string r = Refer("100033", "801200004001", "cw-refer-0004");
  ASSERT_TRUE(Capacity(Coordinator(), "cw-cap-0004", "lead-c", "mentor-org", 10).ok());
  v1::AllocateLeadResponse allocated;
  ASSERT_TRUE(Allocate("cw-alloc-0006", r, "lead-c", &allocated).ok());
  const std::string lead = Lead("lead-c", "mentor-org");

  v1::RecordContactRequest contact;
  contact.set_request_id("cw-contact-0001");
  contact.set_referral_id(r);
  *contact.mutable_contact()->mutable_date() = Today(1);
  contact.mutable_contact()->set_with(v1::CONTACT_WITH_PARENT_CARER);
  contact.mutable_contact()->set_type(v1::CONTACT_TYPE_HOME_VISIT);
  contact.mutable_contact()->set_duration_minutes(45);
  contact.mutable_contact()->set_note("Agreed a morning routine; mum will walk him to the gate");
  v1::RecordContactResponse recorded;
  ASSERT_TRUE(casework().RecordContact(As(lead).get(), contact, &recorded).ok());
  ASSERT_TRUE(casework().RecordContact(As(lead).get(), contact, &recorded).ok());  // a retry
  EXPECT_EQ(recorded.casework().contacts_size(), 1);
  EXPECT_EQ(recorded.casework().contacts(0).recorded_by().subject(), "lead-c");

  // Bad input names the field; only the allocated lead records.
  const std::vector<std::pair<std::function<void(v1::RecordContactRequest&)>, std::string>> bad = {
      {[&](v1::RecordContactRequest& c) { *c.mutable_contact()->mutable_date() = Today(-3); }, "contact.date:"},
      {[](v1::RecordContactRequest& c) { c.mutable_contact()->set_with(v1::CONTACT_WITH_UNSPECIFIED); },
       "contact.with:"},
      {[](v1::RecordContactRequest& c) { c.mutable_contact()->set_type(v1::ContactType(99)); }, "contact.type:"},
      {[](v1::RecordContactRequest& c) { c.mutable_contact()->set_duration_minutes(600); },
       "contact.duration_minutes:"},
      {[](v1::RecordContactRequest& c) { c.mutable_contact()->set_note(std::string(501, 'x')); }, "contact.note:"},
  };
  int n = 0;
  for (const auto& [spoil, field] : bad) {
    v1::RecordContactRequest spoiled = contact;
    spoiled.set_request_id("cw-contact-bad-" + std::to_string(n++));
    spoil(spoiled);
    grpc::Status status = casework().RecordContact(As(lead).get(), spoiled, &recorded);
    EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT) << field;
    EXPECT_THAT(status.error_message(), StartsWith(field));
  }
  contact.set_request_id("cw-contact-0002");
  // Not the case's lead: the answer for casework that is not there.
  EXPECT_EQ(casework()
                .RecordContact(As(Lead("lead-d", "mentor-org")).get(), contact, &recorded)
                .error_code(),
            grpc::NOT_FOUND);

  v1::SetGoalRequest goal;
  goal.set_request_id("cw-goal-0001");
  goal.set_referral_id(r);
  goal.mutable_goal()->set_description("In school every morning by 8:45 for three weeks");
  *goal.mutable_goal()->mutable_target_date() = ToProtoDate(absl::CivilDay(2026, 12, 18));
  v1::SetGoalResponse goals;
  ASSERT_TRUE(casework().SetGoal(As(lead).get(), goal, &goals).ok());
  ASSERT_EQ(goals.casework().goals_size(), 1);
  v1::RecordGoalProgressRequest progress;
  progress.set_request_id("cw-progress-0001");
  progress.set_referral_id(r);
  progress.set_goal_id(goals.casework().goals(0).goal_id());
  *progress.mutable_progress()->mutable_date() = Today();
  progress.mutable_progress()->set_scale(v1::PROGRESS_SCALE_SOME);
  v1::RecordGoalProgressResponse progressed;
  ASSERT_TRUE(casework().RecordGoalProgress(As(lead).get(), progress, &progressed).ok());
  EXPECT_EQ(progressed.casework().goals(0).progress(0).scale(), v1::PROGRESS_SCALE_SOME);
  progress.set_request_id("cw-progress-0002");
  progress.set_goal_id("no-such-goal-0001");
  grpc::Status missing = casework().RecordGoalProgress(As(lead).get(), progress, &progressed);
  EXPECT_EQ(missing.error_code(), grpc::NOT_FOUND);
  EXPECT_THAT(missing.error_message(), StartsWith("goal_id:"));

  v1::RecordFeedbackRequest feedback;
  feedback.set_request_id("cw-feedback-0001");
  feedback.set_referral_id(r);
  feedback.mutable_feedback()->set_from(v1::FEEDBACK_FROM_CHILD);
  *feedback.mutable_feedback()->mutable_date() = Today();
  feedback.mutable_feedback()->set_what_helped("Having someone to talk to before lessons");
  feedback.mutable_feedback()->set_rating(0);
  v1::RecordFeedbackResponse fed;
  grpc::Status bad_rating = casework().RecordFeedback(As(lead).get(), feedback, &fed);
  EXPECT_THAT(bad_rating.error_message(), StartsWith("feedback.rating:"));
  feedback.set_request_id("cw-feedback-0002");
  feedback.mutable_feedback()->set_rating(5);
  ASSERT_TRUE(casework().RecordFeedback(As(lead).get(), feedback, &fed).ok());

  // Who reads the notes: the lead's organisation and the coordinators.
  v1::GetCaseworkRequest get;
  get.set_referral_id(r);
  v1::GetCaseworkResponse read;
  ASSERT_TRUE(casework().GetCasework(As(Lead("lead-d", "mentor-org")).get(), get, &read).ok());
  EXPECT_EQ(read.casework().contacts(0).note(), "Agreed a morning routine; mum will walk him to the gate");
  EXPECT_EQ(read.casework().feedback_size(), 1);
  ASSERT_TRUE(casework().GetCasework(As(Coordinator()).get(), get, &read).ok());
  EXPECT_EQ(
      casework().GetCasework(As(Lead("lead-x", "other-charity")).get(), get, &read).error_code(),
      grpc::NOT_FOUND);
  EXPECT_EQ(casework().GetCasework(As(School("100033")).get(), get, &read).error_code(), grpc::PERMISSION_DENIED);
  get.set_referral_id("no-such-referral-01");
  EXPECT_EQ(casework().GetCasework(As(Coordinator()).get(), get, &read).error_code(), grpc::NOT_FOUND);
  // The reads are on the audit trail.
  auto audit = stack_->h.redis->Command({"XLEN", "ri:audit"});
  ASSERT_TRUE(audit.ok());
  EXPECT_GE(audit->integer, 2);
}

// Intake files its own events on the timeline in the step that makes the
// change; nothing consumes them here, and the entries are there at once.
// The changes come a microsecond apart, within one millisecond: the entries
// still keep their order. (Last: the allocation test counts every
// allocation in the shared outbox.)
TEST_F(CaseworkTest, IntakesOwnChangesAreOnTheTimelineAtOnceAndALeadPutsTheCaseInSupport) {
  const std::string id = Refer("100035", "801200009001", "cw-refer-0091");
  v1::RecordConsentRequest consent;
  consent.set_request_id("cw-consent-0091");
  consent.set_referral_id(id);
  *consent.mutable_consent() = testing::GoodDetails("100035", Upn("801200009001")).consent();
  v1::RecordConsentResponse consented;
  stack_->h.clock.Advance(absl::Microseconds(1));
  const grpc::Status consent_status =
      stack_->referral_stub->RecordConsent(As(School("100035")).get(), consent, &consented);
  ASSERT_TRUE(consent_status.ok()) << consent_status.error_message();
  ASSERT_TRUE(Capacity(Coordinator(), "cw-cap-0091", "lead-t", "youth-trust", 3).ok());
  v1::AllocateLeadResponse allocated;
  stack_->h.clock.Advance(absl::Microseconds(1));
  ASSERT_TRUE(Allocate("cw-alloc-0091", id, "lead-t", &allocated).ok());

  v1::GetCaseTimelineRequest request;
  request.set_referral_id(id);
  request.set_purpose("case review");
  v1::GetCaseTimelineResponse timeline;
  ASSERT_TRUE(stack_->referral_stub->GetCaseTimeline(As(Coordinator()).get(), request, &timeline).ok());
  ASSERT_EQ(timeline.entries_size(), 3) << timeline.DebugString();
  EXPECT_THAT(timeline.entries(0).summary(), StartsWith("Referred"));
  EXPECT_THAT(timeline.entries(1).summary(), StartsWith("Consent "));
  EXPECT_THAT(timeline.entries(2).summary(), StartsWith("Allocated to a programme lead at youth-trust"));
  EXPECT_EQ(timeline.status(), v1::REFERRAL_STATUS_IN_SUPPORT);

  // A retried allocation replays its first answer: no second entry.
  ASSERT_TRUE(Allocate("cw-alloc-0091", id, "lead-t", &allocated).ok());
  ASSERT_TRUE(stack_->referral_stub->GetCaseTimeline(As(Coordinator()).get(), request, &timeline).ok());
  EXPECT_EQ(timeline.entries_size(), 3) << timeline.DebugString();
}

}  // namespace
}  // namespace rooted::referral
