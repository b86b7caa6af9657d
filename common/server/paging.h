#ifndef ROOTED_COMMON_SERVER_PAGING_H_
#define ROOTED_COMMON_SERVER_PAGING_H_

#include <string>

#include "absl/status/statusor.h"
#include "rooted/common/v1/common.pb.h"

namespace rooted {

// Where a list request starts and how much it takes. Lists here are ordered
// by the server and short enough to page by offset; the token is opaque to
// clients all the same.
struct Page {
  size_t offset = 0;
  int size = 0;
};

// INVALID_ARGUMENT naming page.page_size (outside 0..max; 0 means
// `default_size`) or page.page_token (not one of ours).
absl::StatusOr<Page> ParsePage(const rooted::common::v1::PageRequest& page, int default_size,
                               int max_size);

// The token that continues at `next`, or "" when there is no more.
std::string NextPageToken(size_t next, bool more);

}  // namespace rooted

#endif  // ROOTED_COMMON_SERVER_PAGING_H_
