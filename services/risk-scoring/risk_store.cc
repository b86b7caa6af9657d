#include "services/risk-scoring/risk_store.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/proto_date.h"

namespace rooted::risk {
namespace {

constexpr char kAll[] = "all";

absl::Status CheckReply(const RedisReply& reply, absl::string_view what) {
  if (reply.is_error()) return RedisErrorStatus(reply, what);
  return absl::OkStatus();
}

}  // namespace

RiskStore::RiskStore(RedisClient& redis, std::string prefix)
    : redis_(redis), prefix_(std::move(prefix)), outbox_key_(prefix_ + ":outbox") {}

std::string RiskStore::PupilKey(const std::string& ref) const {
  return absl::StrCat(prefix_, ":pupil:", ref);
}
std::string RiskStore::RankKey(const std::string& school_urn) const {
  return school_urn.empty() ? absl::StrCat(prefix_, ":rank:", kAll)
                            : absl::StrCat(prefix_, ":rank:school:", school_urn);
}
std::string RiskStore::CliffKey(const std::string& school_urn) const {
  return school_urn.empty() ? absl::StrCat(prefix_, ":cliff:", kAll)
                            : absl::StrCat(prefix_, ":cliff:school:", school_urn);
}

absl::StatusOr<std::vector<std::optional<PupilState>>> RiskStore::LoadPupils(
    const std::vector<std::string>& pupil_refs) {
  std::vector<std::optional<PupilState>> states(pupil_refs.size());
  if (pupil_refs.empty()) return states;
  std::vector<std::string> command = {"MGET"};
  command.reserve(pupil_refs.size() + 1);
  for (const std::string& ref : pupil_refs) command.push_back(PupilKey(ref));
  absl::StatusOr<RedisReply> reply = redis_.Command(command);
  if (!reply.ok()) return reply.status();
  if (absl::Status s = CheckReply(*reply, "MGET"); !s.ok()) return s;
  if (reply->elements.size() != pupil_refs.size()) return absl::InternalError("MGET: short reply");
  for (size_t i = 0; i < pupil_refs.size(); ++i) {
    const RedisReply& value = reply->elements[i];
    if (value.is_nil()) continue;
    PupilState& state = states[i].emplace();
    if (!state.ParseFromString(value.str)) {
      return absl::DataLossError(absl::StrCat("stored pupil state is unreadable: ", pupil_refs[i]));
    }
  }
  return states;
}

absl::StatusOr<std::vector<StoredPupil>> RiskStore::ScanPupils(std::string& cursor, int count) {
  const std::string prefix = PupilKey("");
  absl::StatusOr<RedisReply> scan = redis_.Command(
      {"SCAN", cursor, "MATCH", prefix + "*", "COUNT", std::to_string(count)});
  if (!scan.ok()) return scan.status();
  if (scan->is_error()) return RedisErrorStatus(*scan, "SCAN");
  if (scan->elements.size() != 2) return absl::InternalError("SCAN: bad reply");
  cursor = scan->elements[0].str;
  std::vector<StoredPupil> page;
  if (scan->elements[1].elements.empty()) return page;
  std::vector<std::string> command = {"MGET"};
  for (const RedisReply& key : scan->elements[1].elements) command.push_back(key.str);
  absl::StatusOr<RedisReply> values = redis_.Command(command);
  if (!values.ok()) return values.status();
  if (absl::Status s = CheckReply(*values, "MGET"); !s.ok()) return s;
  for (size_t i = 0; i + 1 < command.size() && i < values->elements.size(); ++i) {
    if (values->elements[i].is_nil()) continue;  // deleted since the SCAN
    StoredPupil& pupil = page.emplace_back();
    pupil.pupil_ref = command[i + 1].substr(prefix.size());
    pupil.bytes = std::move(values->elements[i].str);
    if (!pupil.state.ParseFromString(pupil.bytes)) {
      return absl::DataLossError("stored pupil state is unreadable: " + pupil.pupil_ref);
    }
  }
  return page;
}

absl::StatusOr<std::optional<StoredPupil>> RiskStore::LoadStoredPupil(const std::string& ref) {
  absl::StatusOr<RedisReply> value = redis_.Command({"GET", PupilKey(ref)});
  if (!value.ok()) return value.status();
  if (absl::Status s = CheckReply(*value, "GET"); !s.ok()) return s;
  if (value->is_nil()) return std::nullopt;
  StoredPupil pupil{ref, {}, std::move(value->str)};
  if (!pupil.state.ParseFromString(pupil.bytes)) {
    return absl::DataLossError("stored pupil state is unreadable: " + ref);
  }
  return pupil;
}

absl::StatusOr<bool> RiskStore::ReplacePupil(const PupilWrite& write, const std::string& expected,
                                             const std::vector<OutboxEvent>& events) {
  // Compare and set: the commands run only if the state is still as read.
  // Globals read once into locals: each global read in a Redis script
  // costs a guarded-table look-up.
  static const RedisScript script(R"lua(
local argv, call, tonumber, unpack = ARGV, redis.call, tonumber, unpack
if call('GET', KEYS[1]) ~= argv[1] then return 0 end
local i = 3
for _ = 1, tonumber(argv[2]) do
  local argc = tonumber(argv[i])
  call(unpack(argv, i + 1, i + argc))
  i = i + argc + 1
end
return 1
)lua");
  std::vector<std::vector<std::string>> commands;
  AppendWrite(commands, write);
  for (const OutboxEvent& event : events) commands.push_back(OutboxAppendCommand(outbox_key_, event));
  std::vector<std::string> args = {expected, std::to_string(commands.size())};
  for (auto& command : commands) {
    args.push_back(std::to_string(command.size()));
    for (auto& arg : command) args.push_back(std::move(arg));
  }
  absl::StatusOr<RedisReply> reply = redis_.Eval(script, {PupilKey(write.pupil_ref)}, args);
  if (!reply.ok()) return reply.status();
  if (absl::Status s = CheckReply(*reply, "replacing a pupil's state"); !s.ok()) return s;
  return reply->integer == 1;
}

void RiskStore::AppendWrite(std::vector<std::vector<std::string>>& commands,
                            const PupilWrite& write) const {
  const std::string& ref = write.pupil_ref;
  const PupilState& state = write.state;
  commands.push_back({"SET", PupilKey(ref), state.SerializeAsString()});
  if (!write.previous_school_urn.empty() && write.previous_school_urn != state.school_urn()) {
    commands.push_back({"ZREM", RankKey(write.previous_school_urn), ref});
    commands.push_back({"ZREM", CliffKey(write.previous_school_urn), ref});
  }
  const std::string score = std::to_string(state.score());
  // The pupil's school's lists and the council-wide ones ("").
  for (const std::string& school : {state.school_urn(), std::string()}) {
    if (state.score() > 0) {
      commands.push_back({"ZADD", RankKey(school), score, ref});
    } else {
      commands.push_back({"ZREM", RankKey(school), ref});
    }
    if (state.cliff_edge()) {
      commands.push_back({"ZADD", CliffKey(school), score, ref});
    } else {
      commands.push_back({"ZREM", CliffKey(school), ref});
    }
  }
}

absl::Status RiskStore::SavePupils(const std::vector<PupilWrite>& writes,
                                   const std::vector<OutboxEvent>& events,
                                   const std::vector<v1::PupilMovement>& movements) {
  if (writes.empty() && events.empty() && movements.empty()) return absl::OkStatus();
  std::vector<std::vector<std::string>> commands;
  commands.reserve(writes.size() * 6 + events.size() + movements.size() + 2);
  commands.push_back({"MULTI"});
  for (const PupilWrite& write : writes) AppendWrite(commands, write);
  for (const v1::PupilMovement& movement : movements) {
    absl::StatusOr<absl::CivilDay> day = FromProtoDate(movement.date());
    if (!day.ok()) continue;  // intake checked it; nothing to place it by
    commands.push_back({"ZADD", MovementsKey(), std::to_string(EpochDay(*day)), movement.SerializeAsString()});
  }
  for (const OutboxEvent& event : events)
    commands.push_back(OutboxAppendCommand(outbox_key_, event));
  commands.push_back({"EXEC"});
  absl::StatusOr<std::vector<RedisReply>> replies = redis_.Pipeline(commands);
  if (!replies.ok()) return replies.status();
  for (size_t i = 0; i + 1 < replies->size(); ++i) {
    if (absl::Status s = CheckReply((*replies)[i], "queueing the pupil write"); !s.ok()) return s;
  }
  const RedisReply& exec = replies->back();
  if (exec.is_nil()) return absl::AbortedError("pupil write was discarded");
  if (absl::Status s = CheckReply(exec, "EXEC"); !s.ok()) return s;
  for (const RedisReply& reply : exec.elements) {
    if (absl::Status s = CheckReply(reply, "pupil write"); !s.ok()) return s;
  }
  return absl::OkStatus();
}

std::string RiskStore::MovementsKey() const { return prefix_ + ":movements"; }
std::string RiskStore::EstablishmentsKey() const { return prefix_ + ":establishments"; }

absl::StatusOr<std::vector<v1::PupilMovement>> RiskStore::LoadMovements(absl::CivilDay from, absl::CivilDay to) {
  absl::StatusOr<RedisReply> reply = redis_.Command(
      {"ZRANGEBYSCORE", MovementsKey(), std::to_string(EpochDay(from)), std::to_string(EpochDay(to))});
  if (!reply.ok()) return reply.status();
  if (absl::Status s = CheckReply(*reply, "movements"); !s.ok()) return s;
  std::vector<v1::PupilMovement> movements(reply->elements.size());
  for (size_t i = 0; i < movements.size(); ++i) {
    if (!movements[i].ParseFromString(reply->elements[i].str)) {
      return absl::DataLossError("a stored movement is corrupt");
    }
  }
  return movements;
}

absl::Status RiskStore::SaveEstablishments(const std::vector<v1::Establishment>& establishments) {
  if (establishments.empty()) return absl::OkStatus();
  std::vector<std::string> command = {"HSET", EstablishmentsKey()};
  for (const v1::Establishment& e : establishments) {
    command.push_back(e.urn());
    command.push_back(e.SerializeAsString());
  }
  absl::StatusOr<RedisReply> reply = redis_.Command(command);
  if (!reply.ok()) return reply.status();
  return CheckReply(*reply, "establishments");
}

absl::StatusOr<std::map<std::string, v1::EstablishmentKind>> RiskStore::LoadEstablishmentKinds() {
  absl::StatusOr<RedisReply> reply = redis_.Command({"HGETALL", EstablishmentsKey()});
  if (!reply.ok()) return reply.status();
  if (absl::Status s = CheckReply(*reply, "establishments"); !s.ok()) return s;
  std::map<std::string, v1::EstablishmentKind> kinds;
  for (size_t i = 0; i + 1 < reply->elements.size(); i += 2) {
    v1::Establishment e;
    if (!e.ParseFromString(reply->elements[i + 1].str)) return absl::DataLossError("a stored establishment is corrupt");
    kinds[e.urn()] = e.kind();
  }
  return kinds;
}

absl::StatusOr<RankingPage> RiskStore::ListRanking(const RankingQuery& query) {
  const std::string min = std::to_string(query.min_score);
  // One more than asked, to know whether another page follows.
  const std::string want = std::to_string(query.limit + 1);
  std::vector<std::vector<std::string>> commands = {
      {"ZCOUNT", RankKey(query.school_urn), min, "+inf"},
      {"ZREVRANGEBYSCORE", RankKey(query.school_urn), "+inf", min, "LIMIT",
       std::to_string(query.offset), want}};
  absl::StatusOr<std::vector<RedisReply>> replies = redis_.Pipeline(commands);
  if (!replies.ok()) return replies.status();
  for (const RedisReply& reply : *replies) {
    if (absl::Status s = CheckReply(reply, "ranking"); !s.ok()) return s;
  }
  RankingPage page;
  for (const RedisReply& element : (*replies)[1].elements) page.pupil_refs.push_back(element.str);
  const int64_t ranked = (*replies)[0].integer;
  if (query.include_cliff_edge && int64_t(page.pupil_refs.size()) <= query.limit) {
    // Cliff-edge pupils below the cut follow the ranked ones.
    const int64_t cliff_offset = std::max<int64_t>(0, query.offset - ranked);
    const int64_t cliff_want = query.limit + 1 - int64_t(page.pupil_refs.size());
    absl::StatusOr<RedisReply> cliff =
        redis_.Command({"ZREVRANGEBYSCORE", CliffKey(query.school_urn), absl::StrCat("(", min),
                        "-inf", "LIMIT", std::to_string(cliff_offset), std::to_string(cliff_want)});
    if (!cliff.ok()) return cliff.status();
    if (absl::Status s = CheckReply(*cliff, "cliff-edge list"); !s.ok()) return s;
    for (const RedisReply& element : cliff->elements) page.pupil_refs.push_back(element.str);
  }
  if (int64_t(page.pupil_refs.size()) > query.limit) {
    page.pupil_refs.resize(size_t(query.limit));
    page.more = true;
  }
  return page;
}

absl::StatusOr<std::optional<v1::ModelConfig>> RiskStore::LoadModel() {
  absl::StatusOr<RedisReply> reply = redis_.Command({"GET", prefix_ + ":model"});
  if (!reply.ok()) return reply.status();
  if (absl::Status s = CheckReply(*reply, "GET model"); !s.ok()) return s;
  if (reply->is_nil()) return std::nullopt;
  v1::ModelConfig config;
  if (!config.ParseFromString(reply->str)) {
    return absl::DataLossError("stored model configuration is unreadable");
  }
  return config;
}

absl::Status RiskStore::SaveModel(const v1::ModelConfig& config) {
  const std::string bytes = config.SerializeAsString();
  absl::StatusOr<std::vector<RedisReply>> replies =
      redis_.Pipeline({{"MULTI"},
                       {"SET", prefix_ + ":model", bytes},
                       {"RPUSH", prefix_ + ":model:history", bytes},
                       {"EXEC"}});
  if (!replies.ok()) return replies.status();
  for (const RedisReply& reply : *replies) {
    if (absl::Status s = CheckReply(reply, "saving the model"); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace rooted::risk
