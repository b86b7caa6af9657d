#ifndef ROOTED_SERVICES_RISK_SCORING_RISK_STORE_H_
#define ROOTED_SERVICES_RISK_SCORING_RISK_STORE_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/outbox/outbox.h"
#include "common/redis/redis_client.h"
#include "rooted/risk/v1/risk.pb.h"
#include "services/risk-scoring/pupil_state.h"

namespace rooted::risk {

// A pupil's new state and where it was listed before, so the rankings move
// with it (a pupil who changed school leaves the old school's list).
struct PupilWrite {
  std::string pupil_ref;
  PupilState state;
  std::string previous_school_urn;
};

// A pupil's state as stored, with the bytes it was read from.
struct StoredPupil {
  std::string pupil_ref;
  PupilState state;
  std::string bytes;
};

// Which ranked pupils to list: those scoring at least min_score, then, if
// asked, the cliff-edge pupils below it. Empty school_urn: the whole council.
struct RankingQuery {
  std::string school_urn;
  int min_score = 0;
  bool include_cliff_edge = false;
  int64_t offset = 0;
  int limit = 50;
};

struct RankingPage {
  std::vector<std::string> pupil_refs;
  bool more = false;
};

// risk-scoring's Redis layout, under one key prefix:
//   <p>:pupil:<ref>            PupilState (one string per pupil)
//   <p>:rank:all, :rank:school:<urn>    zset ref -> score, pupils scoring > 0
//   <p>:cliff:all, :cliff:school:<urn>  zset ref -> score, cliff-edge pupils
//   <p>:model                  the council's current ModelConfig
//   <p>:model:history          every ModelConfig adopted, newest last
//   <p>:outbox                 the outbox stream (RiskEvents)
//   <p>:movements              zset PupilMovement -> its day (days since 1970)
//   <p>:establishments         hash URN -> Establishment
class RiskStore {
 public:
  RiskStore(RedisClient& redis, std::string prefix);

  // One round trip; nullopt for a pupil never seen.
  absl::StatusOr<std::vector<std::optional<PupilState>>> LoadPupils(
      const std::vector<std::string>& pupil_refs);
  // Every state, ranking move and outbox event in one MULTI/EXEC: all or none.
  // Movements (moves, exclusions) are logged in the same step; a replayed
  // one is the same member and lands once.
  absl::Status SavePupils(const std::vector<PupilWrite>& writes,
                          const std::vector<OutboxEvent>& events,
                          const std::vector<v1::PupilMovement>& movements = {});
  // The movements dated from `from` to `to`, both included.
  absl::StatusOr<std::vector<v1::PupilMovement>> LoadMovements(absl::CivilDay from, absl::CivilDay to);
  absl::Status SaveEstablishments(const std::vector<v1::Establishment>& establishments);
  absl::StatusOr<std::map<std::string, v1::EstablishmentKind>> LoadEstablishmentKinds();
  absl::StatusOr<RankingPage> ListRanking(const RankingQuery& query);
  // Every pupil, a page at a time: start with cursor "0"; done when it comes
  // back "0". Pages may repeat a pupil (SCAN's guarantee), so callers key by ref.
  absl::StatusOr<std::vector<StoredPupil>> ScanPupils(std::string& cursor, int count);
  absl::StatusOr<std::optional<StoredPupil>> LoadStoredPupil(const std::string& pupil_ref);
  // Writes like SavePupils, but only if the pupil's stored state is still
  // `expected` (its bytes as read): false, and nothing written, if another
  // writer got there first. For background rescoring beside the scorer.
  absl::StatusOr<bool> ReplacePupil(const PupilWrite& write, const std::string& expected,
                                    const std::vector<OutboxEvent>& events);

  absl::StatusOr<std::optional<v1::ModelConfig>> LoadModel();
  absl::Status SaveModel(const v1::ModelConfig& config);

  const std::string& outbox_key() const { return outbox_key_; }

 private:
  // The state, ranking and outbox commands of one write.
  void AppendWrite(std::vector<std::vector<std::string>>& commands, const PupilWrite& write) const;
  std::string PupilKey(const std::string& ref) const;
  std::string RankKey(const std::string& school_urn) const;
  std::string CliffKey(const std::string& school_urn) const;
  std::string MovementsKey() const;
  std::string EstablishmentsKey() const;

  RedisClient& redis_;
  const std::string prefix_;
  const std::string outbox_key_;
};

}  // namespace rooted::risk

#endif  // ROOTED_SERVICES_RISK_SCORING_RISK_STORE_H_
