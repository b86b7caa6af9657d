#ifndef ROOTED_SERVICES_FUND_PAYMENTS_FUND_RULES_H_
#define ROOTED_SERVICES_FUND_PAYMENTS_FUND_RULES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/auth/principal.h"
#include "rooted/fund/v1/fund.pb.h"

namespace rooted::fund {

namespace v1 = rooted::fund::v1;

// INVALID_ARGUMENT naming the field for anything the fund cannot run with.
absl::Status ValidateFund(const v1::Fund& fund, absl::Time now);
absl::Status ValidateAllocation(const v1::Allocation& allocation);
absl::Status ValidateBankDetails(const v1::BankDetails& bank, absl::string_view path);
// A new request against `fund`: category offered, amount within the
// per-request limit, payee given, justification and evidence present.
absl::Status ValidateFundRequest(const v1::FundRequest& request, const v1::Fund& fund);

// Who must approve a request of this amount under the fund's rules.
enum class ApprovalLevel {
  kSchoolLead,    // up to the school-lead limit: a lead of the allocation's school (or the council)
  kCouncil,       // above it: one council fund approver
  kTwoCouncil,    // above the two-approver threshold: two different council fund approvers
};
ApprovalLevel RequiredApproval(const v1::Fund& fund, int64_t pence);
int ApprovalsNeeded(ApprovalLevel level);

// OK when `who` may add an approval to `request` now. PERMISSION_DENIED for
// the requester themself or someone of the wrong role or organisation;
// FAILED_PRECONDITION for one who has already approved it.
absl::Status CheckApprover(const Principal& who, const v1::FundRequest& request,
                           const v1::Fund& fund, const v1::Allocation& allocation);

// How bank details are shown to all but finance officers: the account number
// as "****1234", the (parent's) account name as "J*** S***".
v1::BankDetails Masked(const v1::BankDetails& bank);

std::string Pounds(int64_t pence);

}  // namespace rooted::fund

#endif  // ROOTED_SERVICES_FUND_PAYMENTS_FUND_RULES_H_
