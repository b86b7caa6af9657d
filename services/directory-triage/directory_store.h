#ifndef ROOTED_SERVICES_DIRECTORY_TRIAGE_DIRECTORY_STORE_H_
#define ROOTED_SERVICES_DIRECTORY_TRIAGE_DIRECTORY_STORE_H_

#include <string>

#include "common/base/ids.h"
#include "common/redis/record_store.h"

namespace rooted::directory {

using rooted::Versioned;

// The directory's keyspace in its own Redis: organisations, services and
// referral needs as records; the council's taxonomy terms and postcode
// districts as hashes; and a change feed every replica follows to keep its
// in-memory index current.
class DirectoryStore final : public RecordStore {
 public:
  using RecordStore::RecordStore;

  std::string OrganizationKey(const std::string& id) const { return Key("org:", id); }
  std::string ServiceKey(const std::string& id) const { return Key("service:", id); }
  std::string ReferralKey(const std::string& id) const { return Key("referral:", id); }
  std::string OrganizationsKey() const { return prefix() + ":orgs"; }
  std::string ServicesKey() const { return prefix() + ":services"; }
  // Hash "<referral id>|<service id>" -> service referral bytes.
  std::string ServiceReferralsKey() const { return prefix() + ":service_referrals"; }
  std::string TermsKey() const { return prefix() + ":terms"; }          // id -> label
  std::string PostcodesKey() const { return prefix() + ":postcodes"; }  // district -> "lat,lon"
  // Stream of {kind: service|terms|postcodes, id, by: the replica that wrote it}.
  std::string ChangesKey() const { return prefix() + ":changes"; }

  // The XADD announcing a change to followers; in the change's own batch.
  std::vector<std::string> ChangeCommand(const std::string& kind, const std::string& id) const {
    return {"XADD", ChangesKey(), "MAXLEN", "~", "100000", "*", "kind", kind, "id", id, "by", replica_};
  }
  // This process's name in the change feed: it has applied its own changes already.
  const std::string& replica() const { return replica_; }

 private:
  const std::string replica_ = NewUuid();
};

}  // namespace rooted::directory

#endif  // ROOTED_SERVICES_DIRECTORY_TRIAGE_DIRECTORY_STORE_H_
