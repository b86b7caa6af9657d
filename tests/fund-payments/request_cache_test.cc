#include "services/fund-payments/request_cache.h"

#include <gtest/gtest.h>

namespace rooted::fund {
namespace {

v1::FundRequest Request(const std::string& id, v1::RequestStatus status) {
  v1::FundRequest r;
  r.set_request_id(id);
  r.set_status(status);
  return r;
}

TEST(RequestCacheTest, KeepsTheNewestVersionItWasGiven) {
  RequestCache cache;
  EXPECT_FALSE(cache.Request("req-0001").has_value());
  cache.RememberRequest(Request("req-0001", v1::REQUEST_STATUS_APPROVED), 2);
  // A slower writer's older version does not hide the newer one.
  cache.RememberRequest(Request("req-0001", v1::REQUEST_STATUS_SUBMITTED), 1);
  std::optional<Versioned<v1::FundRequest>> remembered = cache.Request("req-0001");
  ASSERT_TRUE(remembered.has_value());
  EXPECT_EQ(remembered->version, 2);
  EXPECT_EQ(remembered->record.status(), v1::REQUEST_STATUS_APPROVED);
  cache.RememberRequest(Request("req-0001", v1::REQUEST_STATUS_PAID), 3);
  EXPECT_EQ(cache.Request("req-0001")->record.status(), v1::REQUEST_STATUS_PAID);
}

TEST(RequestCacheTest, RemembersWhichRequestEachPaymentPays) {
  RequestCache cache;
  EXPECT_FALSE(cache.RequestOfPayment("pay-0001").has_value());
  cache.RememberPayment("pay-0001", "req-0001");
  EXPECT_EQ(cache.RequestOfPayment("pay-0001"), "req-0001");
}

TEST(RequestCacheTest, NeverHoldsMoreThanItsCapacity) {
  RequestCache cache(2);
  cache.RememberRequest(Request("req-0001", v1::REQUEST_STATUS_SUBMITTED), 1);
  cache.RememberRequest(Request("req-0002", v1::REQUEST_STATUS_SUBMITTED), 1);
  cache.RememberRequest(Request("req-0003", v1::REQUEST_STATUS_SUBMITTED), 1);
  int held = 0;
  for (const char* id : {"req-0001", "req-0002", "req-0003"}) held += cache.Request(id).has_value();
  EXPECT_LE(held, 2);
  EXPECT_TRUE(cache.Request("req-0003").has_value()) << "the newest is kept";
}

// The cache keeps its newer half when full: what was remembered just before
// is still there (a request between its submission and its approval).
TEST(RequestCacheTest, WhenFullItKeepsTheNewestHalf) {
  RequestCache cache(4);
  for (const char* id : {"req-0001", "req-0002", "req-0003"}) {
    cache.RememberRequest(Request(id, v1::REQUEST_STATUS_SUBMITTED), 1);
    cache.RememberPayment(std::string("pay-") + (id + 4), id);
  }
  EXPECT_TRUE(cache.Request("req-0002").has_value());
  EXPECT_TRUE(cache.Request("req-0003").has_value());
  EXPECT_EQ(cache.RequestOfPayment("pay-0002"), "req-0002");
  // A newer version of an entry in the older half still wins over an older one.
  cache.RememberRequest(Request("req-0001", v1::REQUEST_STATUS_APPROVED), 2);
  cache.RememberRequest(Request("req-0001", v1::REQUEST_STATUS_SUBMITTED), 1);
  EXPECT_EQ(cache.Request("req-0001")->version, 2);
}

}  // namespace
}  // namespace rooted::fund
