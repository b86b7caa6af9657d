#ifndef ROOTED_COMMON_BASE_STATUS_MACROS_H_
#define ROOTED_COMMON_BASE_STATUS_MACROS_H_

// abseil 20220623 has Status and StatusOr but not these two macros.

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define ROOTED_CONCAT_INNER_(a, b) a##b
#define ROOTED_CONCAT_(a, b) ROOTED_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                                           \
  do {                                                                  \
    if (::absl::Status rooted_status_ = (expr); !rooted_status_.ok()) { \
      return rooted_status_;                                            \
    }                                                                   \
  } while (false)

// Declares or assigns `lhs` from a StatusOr, returning its status on error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ROOTED_ASSIGN_OR_RETURN_IMPL_(ROOTED_CONCAT_(rooted_statusor_, __LINE__), lhs, expr)
#define ROOTED_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return std::move(tmp).status();      \
  lhs = *std::move(tmp)

#endif  // ROOTED_COMMON_BASE_STATUS_MACROS_H_
