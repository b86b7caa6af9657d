#ifndef ROOTED_COMMON_BASE_PROTO_MONEY_H_
#define ROOTED_COMMON_BASE_PROTO_MONEY_H_

// rooted.common.v1.Money in pounds sterling. Header-only for the same reason
// as proto_date.h: every user of Money links the generated contracts already.

#include <cstdint>

#include "rooted/common/v1/common.pb.h"

namespace rooted {

inline rooted::common::v1::Money Gbp(int64_t pence) {
  rooted::common::v1::Money money;
  money.set_pence(pence);
  money.set_currency("GBP");
  return money;
}

}  // namespace rooted

#endif  // ROOTED_COMMON_BASE_PROTO_MONEY_H_
