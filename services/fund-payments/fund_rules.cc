#include "services/fund-payments/fund_rules.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/base/field_validation.h"
#include "common/base/proto_date.h"
#include "common/base/status_macros.h"

namespace rooted::fund {
namespace cv1 = rooted::common::v1;
namespace {

constexpr int64_t kMaxFundPence = 100'000'000'00;  // £100m: a typo guard, not a policy

absl::Status ValidateMoney(const cv1::Money& money, absl::string_view path, bool allow_zero) {
  if (money.currency() != "GBP") return FieldError(absl::StrCat(path, ".currency"), "must be GBP");
  if (money.pence() < (allow_zero ? 0 : 1) || money.pence() > kMaxFundPence) {
    return FieldError(absl::StrCat(path, ".pence"),
                      allow_zero ? "0 to £100,000,000" : "a positive amount up to £100,000,000");
  }
  return absl::OkStatus();
}

bool AllDigits(absl::string_view text, size_t length) {
  if (text.size() != length) return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

std::string Pounds(int64_t pence) {
  return absl::StrFormat("£%d.%02d", pence / 100, pence % 100);
}

absl::Status ValidateFund(const v1::Fund& f, absl::Time now) {
  if (!IsLaCode(f.la_code())) return FieldError("fund.la_code", "a 3-digit LA code");
  RETURN_IF_ERROR(ValidateText("fund.name", f.name(), 200, true));
  RETURN_IF_ERROR(ValidateMoney(f.total_budget(), "fund.total_budget", false));
  absl::StatusOr<absl::CivilDay> start = FromProtoDate(f.period_start());
  if (!start.ok()) return FieldError("fund.period_start", "is not a calendar date");
  absl::StatusOr<absl::CivilDay> end = FromProtoDate(f.period_end());
  if (!end.ok()) return FieldError("fund.period_end", "is not a calendar date");
  if (*end <= *start || *end - *start > 2 * 366) {
    return FieldError("fund.period_end", "after the start, within two years of it");
  }
  if (*end < absl::ToCivilDay(now, absl::UTCTimeZone())) {
    return FieldError("fund.period_end", "the period is over");
  }
  if (f.categories().empty()) return FieldError("fund.categories", "name at least one");
  std::set<int> seen;
  for (int i = 0; i < f.categories_size(); ++i) {
    if (f.categories(i) == v1::CATEGORY_UNSPECIFIED || !v1::Category_IsValid(f.categories(i)) ||
        !seen.insert(f.categories(i)).second) {
      return FieldError(absl::StrCat("fund.categories[", i, "]"), "unknown or repeated");
    }
  }
  RETURN_IF_ERROR(ValidateMoney(f.per_request_limit(), "fund.per_request_limit", false));
  RETURN_IF_ERROR(ValidateMoney(f.per_child_limit(), "fund.per_child_limit", false));
  if (f.per_request_limit().pence() > f.per_child_limit().pence()) {
    return FieldError("fund.per_request_limit", "is more than the per-child limit");
  }
  RETURN_IF_ERROR(ValidateMoney(f.approval().school_lead_limit(), "fund.approval.school_lead_limit", true));
  RETURN_IF_ERROR(
      ValidateMoney(f.approval().two_approver_threshold(), "fund.approval.two_approver_threshold", true));
  if (f.approval().two_approver_threshold().pence() < f.approval().school_lead_limit().pence()) {
    return FieldError("fund.approval.two_approver_threshold", "is below the school-lead limit");
  }
  return absl::OkStatus();
}

absl::Status ValidateAllocation(const v1::Allocation& a) {
  RETURN_IF_ERROR(ValidateId("allocation.fund_id", a.fund_id(), "a fund id"));
  const cv1::OrganisationRef& h = a.holder();
  const bool ok = (h.type() == cv1::ORGANISATION_TYPE_SCHOOL && IsSchoolUrn(h.id())) ||
                  (h.type() == cv1::ORGANISATION_TYPE_COUNCIL && IsLaCode(h.id())) ||
                  (h.type() == cv1::ORGANISATION_TYPE_PARTNER && ValidateId("", h.id(), "").ok());
  if (!ok) return FieldError("allocation.holder", "a school, council or partner");
  RETURN_IF_ERROR(ValidateText("allocation.term", a.term(), 40, true));
  return ValidateMoney(a.amount(), "allocation.amount", false);
}

absl::Status ValidateBankDetails(const v1::BankDetails& b, absl::string_view path) {
  RETURN_IF_ERROR(ValidateText(absl::StrCat(path, ".account_name"), b.account_name(), 70, true));
  if (!AllDigits(b.sort_code(), 6)) return FieldError(absl::StrCat(path, ".sort_code"), "six digits");
  if (!AllDigits(b.account_number(), 8)) {
    return FieldError(absl::StrCat(path, ".account_number"), "eight digits");
  }
  return absl::OkStatus();
}

absl::Status ValidateFundRequest(const v1::FundRequest& r, const v1::Fund& fund) {
  RETURN_IF_ERROR(ValidateId("fund_request.allocation_id", r.allocation_id(), "an allocation id"));
  RETURN_IF_ERROR(ValidateId("fund_request.referral_id", r.referral_id(), "a referral id"));
  if (r.pupil_ref().value().size() != 35 || r.pupil_ref().value().rfind("pr_", 0) != 0) {
    return FieldError("fund_request.pupil_ref.value", "is not a pupil reference");
  }
  if (std::find(fund.categories().begin(), fund.categories().end(), r.category()) ==
      fund.categories().end()) {
    return FieldError("fund_request.category", "not a category this fund pays for");
  }
  RETURN_IF_ERROR(ValidateMoney(r.amount(), "fund_request.amount", false));
  if (r.amount().pence() > fund.per_request_limit().pence()) {
    return FieldError("fund_request.amount.pence",
                      absl::StrCat("over the fund's limit of ", Pounds(fund.per_request_limit().pence()),
                                   " a request"));
  }
  switch (r.payee_type()) {
    case v1::PAYEE_TYPE_SUPPLIER:
      RETURN_IF_ERROR(ValidateId("fund_request.payee_id", r.payee_id(), "a payee of the register"));
      break;
    case v1::PAYEE_TYPE_FAMILY:
      RETURN_IF_ERROR(ValidateBankDetails(r.family_bank(), "fund_request.family_bank"));
      break;
    default:
      return FieldError("fund_request.payee_type", "a supplier or a family");
  }
  RETURN_IF_ERROR(ValidateText("fund_request.justification", r.justification(), 1000, true, true));
  RETURN_IF_ERROR(ValidateText("fund_request.evidence_reference", r.evidence_reference(), 200, true));
  return absl::OkStatus();
}

ApprovalLevel RequiredApproval(const v1::Fund& fund, int64_t pence) {
  if (pence <= fund.approval().school_lead_limit().pence()) return ApprovalLevel::kSchoolLead;
  if (pence <= fund.approval().two_approver_threshold().pence()) return ApprovalLevel::kCouncil;
  return ApprovalLevel::kTwoCouncil;
}

int ApprovalsNeeded(ApprovalLevel level) { return level == ApprovalLevel::kTwoCouncil ? 2 : 1; }

absl::Status CheckApprover(const Principal& who, const v1::FundRequest& request,
                           const v1::Fund& fund, const v1::Allocation& allocation) {
  if (who.subject == request.requested_by().subject()) {
    return absl::PermissionDeniedError(
        "fund_request_id: the person who asked may never approve their own request");
  }
  for (const cv1::Actor& earlier : request.approved_by()) {
    if (earlier.subject() == who.subject) {
      return absl::FailedPreconditionError(
          "fund_request_id: you have approved this already; a second, different approver is needed");
    }
  }
  const bool council_approver = who.HasRole(cv1::ROLE_FUND_APPROVER) &&
                                who.organisation_type == cv1::ORGANISATION_TYPE_COUNCIL &&
                                who.la_code == fund.la_code();
  switch (RequiredApproval(fund, request.amount().pence())) {
    case ApprovalLevel::kSchoolLead:
      if (council_approver) return absl::OkStatus();
      if (who.HasRole(cv1::ROLE_SCHOOL_LEAD) &&
          allocation.holder().type() == cv1::ORGANISATION_TYPE_SCHOOL &&
          who.IsSchool(allocation.holder().id())) {
        return absl::OkStatus();
      }
      return absl::PermissionDeniedError(
          "fund_request_id: a lead of the allocation's school or a council fund approver approves this");
    case ApprovalLevel::kCouncil:
    case ApprovalLevel::kTwoCouncil:
      if (council_approver) return absl::OkStatus();
      return absl::PermissionDeniedError(absl::StrCat(
          "fund_request_id: requests over ", Pounds(fund.approval().school_lead_limit().pence()),
          " need a council fund approver"));
  }
  return absl::InternalError("unknown approval level");
}

v1::BankDetails Masked(const v1::BankDetails& bank) {
  v1::BankDetails masked;
  // A parent's name: each word's first letter, its length hidden.
  std::vector<std::string> words;
  for (absl::string_view word : absl::StrSplit(bank.account_name(), ' ', absl::SkipWhitespace())) {
    words.push_back(absl::StrCat(word.substr(0, 1), "***"));
  }
  masked.set_account_name(absl::StrJoin(words, " "));
  if (bank.account_number().size() >= 4) {
    masked.set_account_number("****" + bank.account_number().substr(bank.account_number().size() - 4));
  }
  return masked;
}

}  // namespace rooted::fund
