// Bank details shown to anyone but finance officers are masked: the account
// number to its last four digits, and the parent's name to initials.

#include "services/fund-payments/fund_rules.h"

#include <gtest/gtest.h>

namespace rooted::fund {
namespace {

TEST(FundRulesTest, BankDetailsAreMaskedNameAndNumberAlike) {
  v1::BankDetails bank;
  bank.set_account_name("Jane  Smith-Jones");
  bank.set_account_number("12345678");
  bank.set_sort_code("112233");
  const v1::BankDetails masked = Masked(bank);
  EXPECT_EQ(masked.account_name(), "J*** S***");
  EXPECT_EQ(masked.account_number(), "****5678");
  EXPECT_EQ(masked.sort_code(), "");
}

}  // namespace
}  // namespace rooted::fund
