#ifndef ROOTED_TOOLS_ACCESS_ACCESS_TABLE_H_
#define ROOTED_TOOLS_ACCESS_ACCESS_TABLE_H_

#include <google/protobuf/descriptor.h>

#include <string>
#include <vector>

namespace rooted {

// The files of every RootED API (each named through a message it defines, so
// its descriptor is linked in).
std::vector<const google::protobuf::FileDescriptor*> ApiFiles();

// README's table of access rules, one row per RPC, made from the rules
// declared in the protos so the two cannot drift.
std::string AccessRulesMarkdown();

// The markers between which README holds the table.
inline constexpr char kTableBegin[] =
    "<!-- access-rules:begin (tools/access: rooted-access-rules --write README.md) -->";
inline constexpr char kTableEnd[] = "<!-- access-rules:end -->";

}  // namespace rooted

#endif  // ROOTED_TOOLS_ACCESS_ACCESS_TABLE_H_
