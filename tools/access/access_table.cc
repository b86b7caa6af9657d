#include "tools/access/access_table.h"

#include "absl/strings/str_cat.h"
#include "common/server/access_policy.h"
#include "rooted/audit/v1/audit.pb.h"
#include "rooted/directory/v1/directory.pb.h"
#include "rooted/forum/v1/forum.pb.h"
#include "rooted/fund/v1/fund.pb.h"
#include "rooted/referral/v1/casework.pb.h"
#include "rooted/referral/v1/programme.pb.h"
#include "rooted/referral/v1/referral.pb.h"
#include "rooted/risk/v1/risk.pb.h"

namespace rooted {
namespace cv1 = rooted::common::v1;

std::vector<const google::protobuf::FileDescriptor*> ApiFiles() {
  return {rooted::referral::v1::GetReferralRequest::descriptor()->file(),
          rooted::referral::v1::GetCaseworkRequest::descriptor()->file(),
          rooted::referral::v1::GetScreeningRequest::descriptor()->file(),
          rooted::risk::v1::ListAtRiskRequest::descriptor()->file(),
          rooted::forum::v1::ListCasesRequest::descriptor()->file(),
          rooted::directory::v1::TriageRequest::descriptor()->file(),
          rooted::fund::v1::ImportBankFileRequest::descriptor()->file(),
          rooted::audit::v1::ListAuditEntriesRequest::descriptor()->file()};
}

std::string AccessRulesMarkdown() {
  std::string table =
      "| RPC | who may call it, and for what | record | personal data |\n|---|---|---|---|\n";
  for (const google::protobuf::FileDescriptor* file : ApiFiles()) {
    for (int s = 0; s < file->service_count(); ++s) {
      const google::protobuf::ServiceDescriptor* service = file->service(s);
      for (int m = 0; m < service->method_count(); ++m) {
        const google::protobuf::MethodDescriptor* method = service->method(m);
        const AccessRule rule = method->options().GetExtension(cv1::access);
        std::string record =
            rule.record().kind().empty()
                ? (rule.school_field().empty()
                       ? ""
                       : absl::StrCat("school in `", rule.school_field(), "`"))
                : absl::StrCat(rule.record().kind(), " `", rule.record().field(), "`");
        std::string personal;
        switch (rule.personal_data()) {
          case cv1::PERSONAL_DATA_READS:
            personal = absl::StrCat("reads (audited: ", rule.purpose(), ")");
            break;
          case cv1::PERSONAL_DATA_CHANGES:
            personal = absl::StrCat("changes (audited: ", rule.purpose(), ")");
            break;
          default:
            personal = "none";
        }
        absl::StrAppend(&table, "| `", service->name(), ".", method->name(), "` | ",
                        DescribeGrants(rule), " | ", record, " | ", personal, " |\n");
      }
    }
  }
  return table;
}

}  // namespace rooted
