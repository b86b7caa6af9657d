#include "common/server/paging.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/base/base64.h"
#include "common/base/field_validation.h"

namespace rooted {

absl::StatusOr<Page> ParsePage(const rooted::common::v1::PageRequest& page, int default_size,
                               int max_size) {
  Page out;
  if (page.page_size() < 0 || page.page_size() > max_size) {
    return FieldError("page.page_size", absl::StrCat("0 (default ", default_size, ") to ", max_size));
  }
  out.size = page.page_size() == 0 ? default_size : page.page_size();
  if (page.page_token().empty()) return out;
  absl::StatusOr<std::string> text = Base64UrlDecode(page.page_token());
  if (!text.ok() || text->rfind("o1:", 0) != 0 || !absl::SimpleAtoi(text->substr(3), &out.offset)) {
    return FieldError("page.page_token", "not a token from this service");
  }
  return out;
}

std::string NextPageToken(size_t next, bool more) {
  return more ? Base64UrlEncode(absl::StrCat("o1:", next)) : "";
}

}  // namespace rooted
