// Issue 24 §2: under the Prometheus Operator the per-service dashboards were
// empty. The code labelled every series service=..., the operator sets its
// own service label (the Kubernetes Service) on every target, and with
// honor_labels false Prometheus renamed the code's label exported_service,
// so every rooted_service="..." selector matched nothing. The code's label
// is now rooted_service. Proved here through a real scrape: the five service
// binaries, called for real, scraped by Debian's Prometheus with the scrape
// job the operator generates for the repository's ServiceMonitor (its
// Kubernetes discovery stood in for by static targets carrying the same
// __meta_kubernetes_* labels, then the operator's own relabelling); then
// every query of every dashboard is run against that Prometheus.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "rooted/directory/v1/directory.grpc.pb.h"
#include "rooted/forum/v1/forum.grpc.pb.h"
#include "rooted/fund/v1/fund.grpc.pb.h"
#include "rooted/referral/v1/referral.grpc.pb.h"
#include "rooted/risk/v1/risk.grpc.pb.h"
#include "tests/referral-intake/referral_fixtures.h"
#include "tests/support/auth.h"
#include "tests/support/health_probe.h"
#include "tests/support/local_stack.h"
#include "tests/support/run_tool.h"
#include "tests/support/service_harness.h"

namespace rooted {
namespace {

namespace fs = std::filesystem;
namespace cv1 = rooted::common::v1;
using nlohmann::json;

constexpr char kPrometheus[] = "/usr/bin/prometheus";
const std::string kPupilRefSecret(40, 'p');
const std::vector<std::string> kServices = {"referral-intake", "risk-scoring", "forum-scheduling",
                                            "directory-triage", "fund-payments"};

// The Kubernetes names deploy/k8s/base gives service `s` (base/service
// kustomized with namePrefix "<s>-"): Service and Deployment "<s>-api", one
// container "service" with ports "grpc" and "metrics". The Service's labels
// are the ones its ServiceMonitor selects on.
std::string KubeService(const std::string& s) { return s + "-api"; }
std::string PodName(const std::string& s) { return s + "-api-6b7f9c8d5-x2k4q"; }
constexpr char kContainer[] = "service";
std::map<std::string, std::string> KubeServiceLabels(const std::string& s) {
  return {{"app.kubernetes.io/component", "api"},
          {"app.kubernetes.io/name", s},
          {"app.kubernetes.io/part-of", "rooted"},
          {"rooted.org.uk/metrics", "true"}};
}

std::string FileText(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A Kubernetes label name as Prometheus's discovery spells it in a meta label.
std::string MetaName(const std::string& label) {
  std::string out = label;
  for (char& c : out) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return out;
}

// ---- the ServiceMonitor ------------------------------------------------------

struct MonitorEndpoint {
  std::string port;
  std::string path = "/metrics";
  std::string scheme = "http";
  bool honor_labels = false;
};

// What of a ServiceMonitor this test reproduces; anything else it uses is
// listed in `unsupported`, so the test fails rather than scrape differently.
struct ServiceMonitor {
  std::string file;
  std::string namespace_name = "rooted";  // the namespace deploy/k8s/base sets
  std::map<std::string, std::string> match_labels;
  std::string job_label;
  std::vector<std::string> target_labels;
  std::vector<MonitorEndpoint> endpoints;
  std::vector<std::string> unsupported;
};

// `node[key]`, or a null node when `node` has no such key: yaml-cpp throws
// on looking into a missing one.
YAML::Node Field(const YAML::Node& node, const std::string& key) {
  if (!node.IsMap()) return YAML::Node();
  const YAML::Node value = node[key];
  return value.IsDefined() ? value : YAML::Node();
}

// A scalar's text, or `fallback` when `node` is none (yaml-cpp's as<string>
// gives a null node the text "null").
std::string Text(const YAML::Node& node, const std::string& fallback = "") {
  return node.IsScalar() ? node.Scalar() : fallback;
}

void NoteUnsupported(const YAML::Node& map, const std::set<std::string>& known,
                     const std::string& where, std::vector<std::string>& unsupported) {
  for (const auto& entry : map) {
    const std::string key = entry.first.as<std::string>();
    if (!known.contains(key)) unsupported.push_back(where + key);
  }
}

ServiceMonitor ReadMonitor(const std::string& file, const YAML::Node& doc) {
  ServiceMonitor m;
  m.file = file;
  const YAML::Node spec = Field(doc, "spec");
  NoteUnsupported(spec, {"selector", "namespaceSelector", "endpoints", "jobLabel", "targetLabels"},
                  "spec.", m.unsupported);
  const YAML::Node selector = Field(spec, "selector");
  NoteUnsupported(selector, {"matchLabels"}, "spec.selector.", m.unsupported);
  for (const auto& label : Field(selector, "matchLabels"))
    m.match_labels[label.first.as<std::string>()] = label.second.as<std::string>();
  if (const YAML::Node names = Field(Field(spec, "namespaceSelector"), "matchNames");
      !names.IsNull()) {
    if (!names.IsSequence() || names.size() != 1)
      m.unsupported.push_back("spec.namespaceSelector (not one namespace)");
    else
      m.namespace_name = names[0].as<std::string>();
  }
  m.job_label = Text(Field(spec, "jobLabel"));
  for (const auto& label : Field(spec, "targetLabels"))
    m.target_labels.push_back(label.as<std::string>());
  for (const auto& e : Field(spec, "endpoints")) {
    // interval and scrapeTimeout are read and shortened: see PrometheusConfig.
    NoteUnsupported(e, {"port", "path", "scheme", "honorLabels", "interval", "scrapeTimeout"},
                    "spec.endpoints[].", m.unsupported);
    MonitorEndpoint endpoint;
    endpoint.port = Text(Field(e, "port"));
    endpoint.path = Text(Field(e, "path"), endpoint.path);
    endpoint.scheme = Text(Field(e, "scheme"), endpoint.scheme);
    endpoint.honor_labels = Field(e, "honorLabels").as<bool>(false);
    if (endpoint.port.empty()) m.unsupported.push_back("spec.endpoints[] without a named port");
    m.endpoints.push_back(endpoint);
  }
  return m;
}

// Every ServiceMonitor `name` under deploy/k8s, wherever it lives (it moves
// from base/servicemonitor.yaml to monitoring/monitors.yaml).
std::vector<ServiceMonitor> FindServiceMonitors(const std::string& name) {
  std::vector<ServiceMonitor> found;
  for (const auto& entry : fs::recursive_directory_iterator(ROOTED_SOURCE_DIR "/deploy/k8s")) {
    const std::string ext = entry.path().extension().string();
    if (!entry.is_regular_file() || (ext != ".yaml" && ext != ".yml")) continue;
    const std::string text = FileText(entry.path().string());
    if (!absl::StrContains(text, "ServiceMonitor")) continue;
    for (const YAML::Node& doc : YAML::LoadAll(text)) {
      if (Text(Field(doc, "kind")) == "ServiceMonitor" &&
          Text(Field(Field(doc, "metadata"), "name")) == name) {
        found.push_back(ReadMonitor(entry.path().string(), doc));
      }
    }
  }
  return found;
}

// ---- the operator's scrape job -------------------------------------------------

// The relabelling the Prometheus Operator generates for one endpoint of a
// ServiceMonitor with role "endpoints" discovery (the operator's
// generateServiceMonitorConfig), in its order.
json OperatorRelabelling(const ServiceMonitor& m, const MonitorEndpoint& e) {
  auto replace = [](std::vector<std::string> sources, const std::string& target,
                    const std::string& regex = "(.*)") {
    return json{{"source_labels", sources}, {"separator", ";"},      {"regex", regex},
                {"target_label", target},   {"replacement", "${1}"}, {"action", "replace"}};
  };
  json r = json::array();
  for (const auto& [label, value] : m.match_labels) {
    const std::string meta = MetaName(label);
    r.push_back({{"source_labels", json::array({"__meta_kubernetes_service_label_" + meta,
                                                "__meta_kubernetes_service_labelpresent_" + meta})},
                 {"separator", ";"},
                 {"regex", "(" + value + ");true"},
                 {"action", "keep"}});
  }
  r.push_back({{"source_labels", json::array({"__meta_kubernetes_endpoint_port_name"})},
               {"regex", e.port},
               {"action", "keep"}});
  const std::vector<std::string> target = {"__meta_kubernetes_endpoint_address_target_kind",
                                           "__meta_kubernetes_endpoint_address_target_name"};
  r.push_back(replace(target, "node", "Node;(.*)"));
  r.push_back(replace(target, "pod", "Pod;(.*)"));
  r.push_back(replace({"__meta_kubernetes_namespace"}, "namespace"));
  r.push_back(replace({"__meta_kubernetes_service_name"}, "service"));
  r.push_back(replace({"__meta_kubernetes_pod_name"}, "pod"));
  r.push_back(replace({"__meta_kubernetes_pod_container_name"}, "container"));
  r.push_back({{"source_labels", json::array({"__meta_kubernetes_pod_phase"})},
               {"regex", "(Failed|Succeeded)"},
               {"action", "drop"}});
  for (const std::string& label : m.target_labels)
    r.push_back(
        replace({"__meta_kubernetes_service_label_" + MetaName(label)}, MetaName(label), "(.+)"));
  r.push_back(replace({"__meta_kubernetes_service_name"}, "job"));
  if (!m.job_label.empty())
    r.push_back(
        replace({"__meta_kubernetes_service_label_" + MetaName(m.job_label)}, "job", "(.+)"));
  r.push_back({{"target_label", "endpoint"}, {"replacement", e.port}});
  r.push_back({{"source_labels", json::array({"__address__"})},
               {"target_label", "__tmp_hash"},
               {"modulus", 1},
               {"action", "hashmod"}});
  r.push_back({{"source_labels", json::array({"__tmp_hash"})}, {"regex", "0"}, {"action", "keep"}});
  return r;
}

// What Kubernetes' endpoints discovery would say of one port of a service's
// Service: its address and the __meta_kubernetes_* labels.
json DiscoveredPort(const ServiceMonitor& m, const std::string& service,
                    const std::string& port_name, int port) {
  json labels = {{"__meta_kubernetes_namespace", m.namespace_name},
                 {"__meta_kubernetes_service_name", KubeService(service)},
                 {"__meta_kubernetes_endpoint_port_name", port_name},
                 {"__meta_kubernetes_endpoint_address_target_kind", "Pod"},
                 {"__meta_kubernetes_endpoint_address_target_name", PodName(service)},
                 {"__meta_kubernetes_pod_name", PodName(service)},
                 {"__meta_kubernetes_pod_container_name", kContainer},
                 {"__meta_kubernetes_pod_phase", "Running"}};
  for (const auto& [label, value] : KubeServiceLabels(service)) {
    labels["__meta_kubernetes_service_label_" + MetaName(label)] = value;
    labels["__meta_kubernetes_service_labelpresent_" + MetaName(label)] = "true";
  }
  return {{"targets", json::array({absl::StrCat("127.0.0.1:", port)})}, {"labels", labels}};
}

// ---- Prometheus's HTTP API ---------------------------------------------------

std::string ShellQuoted(const std::string& s) {
  return "'" + absl::StrReplaceAll(s, {{"'", "'\\''"}}) + "'";
}

// GET `path` with `param` ("name=value", URL-encoded by curl); the parsed
// answer, or null when nothing answered with JSON.
json PrometheusGet(int port, const std::string& path, const std::string& param = "") {
  std::string command = "curl --silent --max-time 10 --get";
  if (!param.empty()) command += " --data-urlencode " + ShellQuoted(param);
  const testing::ToolResult answer =
      testing::RunCommand(absl::StrCat(command, " http://127.0.0.1:", port, path));
  if (answer.exit_code != 0) return json();
  json parsed = json::parse(answer.out, nullptr, /*allow_exceptions=*/false);
  return parsed.is_discarded() ? json() : parsed;
}

// An instant query's answer (status, data.result or error).
json Query(int port, const std::string& expr) {
  return PrometheusGet(port, "/api/v1/query", "query=" + expr);
}

json ResultOf(const json& answer) {
  return answer.is_object() && answer.value("status", "") == "success"
             ? answer["data"].value("result", json::array())
             : json::array();
}

// ---- the stack -----------------------------------------------------------------

struct CallOutcome {
  std::string service;
  std::string call;
  grpc::StatusCode want;
  grpc::Status got;
};

template <typename Stub, typename Request, typename Response>
grpc::Status Call(const std::shared_ptr<grpc::Channel>& channel,
                  grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                  const Request& request, const std::string& token) {
  Stub stub(channel);
  Response response;
  auto context = testing::AuthedContext(token);
  return (stub.*method)(context.get(), request, &response);
}

// Redis, the broker and the five services, called so their RPC series exist,
// then scraped by Prometheus with the operator's job for the monitor.
class ScrapedStack {
 public:
  ScrapedStack() : dir_(testing::MakeTempDir()) {
    int db = 1;
    for (const std::string& name : kServices) {
      std::vector<std::string> flags = {"--redis-port=" + std::to_string(redis_.port()),
                                        "--redis-db=" + std::to_string(db++),
                                        "--kafka-bootstrap=" + broker_.bootstrap(),
                                        "--kafka-session-timeout=6s",
                                        "--shutdown-drain=1s",
                                        "--token-secret=" + testing::kTestTokenSecret,
                                        "--log-level=error"};
      if (name == "referral-intake" || name == "risk-scoring") {
        flags.push_back("--pupil-ref-secret=" + kPupilRefSecret);
        flags.push_back("--schools-file=" + testing::TestSchoolRegister());
      }
      if (name == "risk-scoring") flags.push_back("--la-code=801");
      services_[name] = std::make_unique<testing::ServiceProcess>(
          testing::BinaryDir() + "/services/" + name + "/" + name, flags);
    }
    for (const auto& [name, process] : services_) {
      const std::string target = absl::StrCat("127.0.0.1:", process->grpc_port());
      if (!testing::Eventually([&] { return testing::IsServing(target, ""); }, absl::Seconds(60)))
        throw std::runtime_error(name + " never became ready");
    }
    MakeCalls();
    monitors_ = FindServiceMonitors("rooted-services");
    if (monitors_.size() == 1 && monitors_[0].unsupported.empty()) StartPrometheus();
  }

  const std::vector<ServiceMonitor>& monitors() const { return monitors_; }
  const std::vector<CallOutcome>& calls() const { return calls_; }
  int prometheus_port() const { return prometheus_port_; }
  bool prometheus_running() const { return prometheus_ != nullptr; }

 private:
  std::shared_ptr<grpc::Channel> Channel(const std::string& service) const {
    return grpc::CreateChannel(absl::StrCat("127.0.0.1:", services_.at(service)->grpc_port()),
                               grpc::InsecureChannelCredentials());
  }

  // One call each service answers and one it refuses as a bad request, so
  // each has rooted_rpc_requests_total series for OK and INVALID_ARGUMENT;
  // the referral submitted also makes rooted_referrals_submitted_total.
  void MakeCalls() {
    const testing::TestTokens tokens(testing::kTestTokenSecret);
    const std::string officer =
        tokens.Mint("officer-1", cv1::ROLE_COUNCIL_OFFICER, cv1::ORGANISATION_TYPE_COUNCIL, "801",
                    "801", absl::Now());
    const std::string staff =
        tokens.Mint("staff-1", cv1::ROLE_SCHOOL_STAFF, cv1::ORGANISATION_TYPE_SCHOOL, "100001",
                    "801", absl::Now());
    auto record = [&](const std::string& service, const std::string& call, grpc::StatusCode want,
                      grpc::Status got) {
      calls_.push_back({service, call, want, std::move(got)});
    };
    cv1::PageRequest too_big;
    too_big.set_page_size(501);

    referral::v1::SubmitReferralRequest submit;
    submit.set_request_id("scrape-test-referral-1");
    *submit.mutable_details() = referral::testing::GoodDetails("100001");
    record("referral-intake", "SubmitReferral", grpc::OK,
           Call(Channel("referral-intake"), &referral::v1::ReferralService::Stub::SubmitReferral,
                submit, staff));
    submit.set_request_id("scrape-test-referral-2");
    submit.mutable_details()->mutable_child()->set_upn("Z801200001001");
    record("referral-intake", "SubmitReferral (bad UPN)", grpc::INVALID_ARGUMENT,
           Call(Channel("referral-intake"), &referral::v1::ReferralService::Stub::SubmitReferral,
                submit, staff));

    risk::v1::ListAtRiskRequest at_risk;
    record("risk-scoring", "ListAtRisk", grpc::OK,
           Call(Channel("risk-scoring"), &risk::v1::RiskScoringService::Stub::ListAtRisk, at_risk,
                officer));
    *at_risk.mutable_page() = too_big;
    record("risk-scoring", "ListAtRisk (page of 501)", grpc::INVALID_ARGUMENT,
           Call(Channel("risk-scoring"), &risk::v1::RiskScoringService::Stub::ListAtRisk, at_risk,
                officer));

    forum::v1::ListForumsRequest forums;
    record("forum-scheduling", "ListForums", grpc::OK,
           Call(Channel("forum-scheduling"), &forum::v1::ForumService::Stub::ListForums, forums,
                officer));
    *forums.mutable_page() = too_big;
    record("forum-scheduling", "ListForums (page of 501)", grpc::INVALID_ARGUMENT,
           Call(Channel("forum-scheduling"), &forum::v1::ForumService::Stub::ListForums, forums,
                officer));

    directory::v1::SearchServicesRequest search;
    record("directory-triage", "SearchServices", grpc::OK,
           Call(Channel("directory-triage"), &directory::v1::DirectoryService::Stub::SearchServices,
                search, officer));
    search.set_age(121);
    record("directory-triage", "SearchServices (age 121)", grpc::INVALID_ARGUMENT,
           Call(Channel("directory-triage"), &directory::v1::DirectoryService::Stub::SearchServices,
                search, officer));

    fund::v1::ListFundsRequest funds;
    record("fund-payments", "ListFunds", grpc::OK,
           Call(Channel("fund-payments"), &fund::v1::FundService::Stub::ListFunds, funds, officer));
    *funds.mutable_page() = too_big;
    record("fund-payments", "ListFunds (page of 501)", grpc::INVALID_ARGUMENT,
           Call(Channel("fund-payments"), &fund::v1::FundService::Stub::ListFunds, funds, officer));
  }

  // The operator's job for each endpoint of the monitor, over every port of
  // every service's Service (the grpc ones are dropped by its port rule, as
  // in a cluster). The monitor's interval (15 s) is shortened to 1 s so the
  // test need not wait for rate() to have two samples.
  std::string PrometheusConfig() const {
    const ServiceMonitor& m = monitors_.front();
    json jobs = json::array();
    for (size_t i = 0; i < m.endpoints.size(); ++i) {
      json targets = json::array();
      for (const auto& [name, process] : services_) {
        targets.push_back(DiscoveredPort(m, name, "grpc", process->grpc_port()));
        targets.push_back(DiscoveredPort(m, name, "metrics", process->metrics_port()));
      }
      jobs.push_back(
          {{"job_name", absl::StrCat("serviceMonitor/", m.namespace_name, "/rooted-services/", i)},
           {"honor_labels", m.endpoints[i].honor_labels},
           {"metrics_path", m.endpoints[i].path},
           {"scheme", m.endpoints[i].scheme},
           {"scrape_interval", "1s"},
           {"scrape_timeout", "1s"},
           {"static_configs", targets},
           {"relabel_configs", OperatorRelabelling(m, m.endpoints[i])}});
    }
    // JSON is YAML: Prometheus reads it as its YAML config.
    return json{{"global", {{"scrape_interval", "1s"}, {"evaluation_interval", "1s"}}},
                {"scrape_configs", jobs}}
        .dump(2);
  }

  // Prometheus cannot bind port 0 and say which port it got, so a free port
  // is picked; another process may take it first, in which case Prometheus
  // exits saying so and another port is tried.
  void StartPrometheus() {
    const std::string config = dir_ + "/prometheus.yml";
    std::ofstream(config) << PrometheusConfig();
    const std::string log = dir_ + "/prometheus.log";
    for (int attempt = 0; attempt < 5; ++attempt) {
      const int port = testing::FreePort();
      // Through sh so Prometheus's log (stderr) goes to a file this test
      // can show; exec, so the process is Prometheus itself.
      prometheus_ = std::make_unique<testing::ChildProcess>(
          std::vector<std::string>{
              "/bin/sh", "-c", "exec \"$0\" \"$@\" 2>" + log, kPrometheus,
              "--config.file=" + config, "--storage.tsdb.path=" + dir_ + "/data",
              absl::StrCat("--web.listen-address=127.0.0.1:", port), "--log.level=warn"},
          "/dev/null");
      bool exited = false;
      const bool ready = testing::Eventually(
          [&] {
            int status = 0;
            if (waitpid(prometheus_->pid(), &status, WNOHANG) != 0) return exited = true;
            // Whoever else holds a raced port would not answer this.
            return absl::StrContains(
                testing::RunCommand(
                    absl::StrCat("curl --silent --max-time 2 http://127.0.0.1:", port, "/-/ready"))
                    .out,
                "Prometheus Server is Ready");
          },
          absl::Seconds(60));
      if (ready && !exited) {
        prometheus_port_ = port;
        return;
      }
      const std::string said = FileText(log);
      prometheus_.reset();
      if (!exited || !absl::StrContains(said, "address already in use"))
        throw std::runtime_error("Prometheus did not start: " + said);
    }
    throw std::runtime_error("Prometheus found no free port in 5 tries");
  }

  testing::RedisServer redis_;
  testing::Broker broker_;
  std::map<std::string, std::unique_ptr<testing::ServiceProcess>> services_;
  std::string dir_;
  std::vector<CallOutcome> calls_;
  std::vector<ServiceMonitor> monitors_;
  int prometheus_port_ = 0;
  // Last, so it stops first.
  std::unique_ptr<testing::ChildProcess> prometheus_;
};

// One stack for the suite: five services and a Prometheus take seconds.
class ScrapeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (access(kPrometheus, X_OK) == 0) stack_ = new ScrapedStack();
  }
  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
  }

  void SetUp() override {
    if (access(kPrometheus, X_OK) != 0)
      GTEST_SKIP() << kPrometheus << " is missing: install Debian's prometheus package";
    ASSERT_NE(stack_, nullptr) << "the stack did not start (see the error above)";
    ASSERT_EQ(stack_->monitors().size(), 1u)
        << "want exactly one ServiceMonitor rooted-services under deploy/k8s";
    const ServiceMonitor& m = stack_->monitors().front();
    ASSERT_TRUE(m.unsupported.empty())
        << m.file
        << " uses what this test does not reproduce: " << absl::StrJoin(m.unsupported, ", ");
    ASSERT_TRUE(stack_->prometheus_running());
    // Every service's metrics port is a target, scraped at least once.
    json up;
    ASSERT_TRUE(testing::Eventually(
        [&] {
          up = ResultOf(Query(port(), "up"));
          size_t scraped = 0;
          for (const json& series : up) scraped += series["value"][1] == "1";
          return scraped == kServices.size() && up.size() == kServices.size();
        },
        absl::Seconds(60)))
        << "up: " << up.dump() << "\ntargets: " << PrometheusGet(port(), "/api/v1/targets").dump();
  }

  static int port() { return stack_->prometheus_port(); }
  static inline ScrapedStack* stack_ = nullptr;
};

TEST_F(ScrapeTest, TargetsCarryTheOperatorsLabelsAndNoSeriesHasExportedService) {
  for (const CallOutcome& c : stack_->calls()) {
    EXPECT_EQ(c.got.error_code(), c.want)
        << c.service << " " << c.call << ": " << c.got.error_message();
  }
  // The labels the operator's relabelling gives each target, and no others.
  const std::string ns = stack_->monitors().front().namespace_name;
  std::set<std::map<std::string, std::string>> want, targets;
  for (const std::string& s : kServices) {
    want.insert({{"__name__", "up"},
                 {"job", KubeService(s)},
                 {"service", KubeService(s)},
                 {"namespace", ns},
                 {"pod", PodName(s)},
                 {"container", kContainer},
                 {"endpoint", "metrics"}});
  }
  for (const json& series : ResultOf(Query(port(), "up"))) {
    auto labels = series["metric"].get<std::map<std::string, std::string>>();
    EXPECT_TRUE(absl::StartsWith(labels["instance"], "127.0.0.1:")) << series.dump();
    labels.erase("instance");
    targets.insert(labels);
  }
  EXPECT_EQ(targets, want);

  // The renamed label would show here; so would any other clash between the
  // code's labels and the target's (exported_job, exported_namespace...).
  const json exported = Query(port(), "count({exported_service!=\"\"})");
  EXPECT_EQ(exported.value("status", ""), "success") << exported.dump();
  EXPECT_EQ(ResultOf(exported), json::array());
  const json names = PrometheusGet(port(), "/api/v1/labels");
  ASSERT_EQ(names.value("status", ""), "success") << names.dump();
  for (const json& name : names["data"])
    EXPECT_FALSE(absl::StartsWith(name.get<std::string>(), "exported_")) << name;

  // Every RPC series names its service both ways: the code's rooted_service,
  // the operator's service (and job); each service has its OK and its refusal.
  const json rpcs = ResultOf(Query(port(), "rooted_rpc_requests_total"));
  std::set<std::pair<std::string, std::string>> codes;
  for (const json& series : rpcs) {
    const json& labels = series["metric"];
    const std::string service = labels.value("rooted_service", "");
    EXPECT_EQ(labels.value("service", ""), KubeService(service)) << labels.dump();
    EXPECT_EQ(labels.value("job", ""), KubeService(service)) << labels.dump();
    codes.emplace(service, labels.value("code", ""));
  }
  for (const std::string& s : kServices) {
    EXPECT_TRUE(codes.contains({s, "OK"})) << s << ": " << rpcs.dump();
    EXPECT_TRUE(codes.contains({s, "INVALID_ARGUMENT"})) << s << ": " << rpcs.dump();
  }
  // ...and so does every other series of the shared Metrics (events, outbox, lag).
  const json labelled = Query(port(), "{rooted_service!=\"\"}");
  ASSERT_EQ(labelled.value("status", ""), "success") << labelled.dump();
  for (const json& series : ResultOf(labelled)) {
    const json& labels = series["metric"];
    EXPECT_EQ(labels.value("service", ""), KubeService(labels.value("rooted_service", "")))
        << labels.dump();
  }
}

// ---- the dashboards ------------------------------------------------------------

// Metrics a dashboard panel may count on here, and why each exists.
const std::map<std::string, std::string> kExported = {
    // From start-up: every series of each topic consumed or produced starts
    // at 0 (Metrics::DeclareConsumedTopic, DeclareProducedTopic), and so do
    // the outbox gauge and risk-scoring's two signal outcomes.
    {"rooted_events_consumed_total", "start"},
    {"rooted_events_dead_lettered_total", "start"},
    {"rooted_events_produced_total", "start"},
    {"rooted_events_produce_failures_total", "start"},
    {"rooted_outbox_depth", "start"},
    {"rooted_redis_pipeline_waiting", "start"},
    {"rooted_redis_pipeline_failures_total", "start"},
    {"rooted_signals_total", "start"},
    // Each consumer's lag timer (every 15 s) once it holds its partitions.
    {"rooted_consumer_lag", "lag timer"},
    // The calls the stack made: RPCs answered and refused, a referral submitted.
    {"rooted_rpc_requests_total", "calls"},
    {"rooted_rpc_duration_seconds_bucket", "calls"},
    {"rooted_referrals_submitted_total", "calls"},
    // Not here: forum decisions and overdue actions, fund pence and overspend
    // refusals, triage answers: their series appear with traffic this test
    // does not make.
};

// The labels on every series a service exports: its own, and the target's.
const std::set<std::string> kEveryServiceSeriesHas = {
    "rooted_service", "job", "service", "namespace", "pod", "container", "endpoint", "instance"};

struct PanelQuery {
  std::string where;  // dashboard file and panel title
  std::string expr;
  bool needs_series;
};

void CollectPanels(const json& panels, std::vector<json>& out) {
  for (const json& panel : panels) {
    out.push_back(panel);
    if (panel.contains("panels")) CollectPanels(panel["panels"], out);
  }
}

// The value Grafana would give template variable `variable` on the
// dashboard of `service`: from the label it lists (label_values(...)), else
// its current value.
std::optional<std::string> VariableValue(const json& variable, const std::string& service) {
  const json query = variable.value("query", json());
  const std::string text = query.is_object()   ? query.value("query", "")
                           : query.is_string() ? query.get<std::string>()
                                               : "";
  std::smatch m;
  std::string label = variable.value("name", "");
  if (std::regex_search(text, m, std::regex(R"(label_values\((?:[^,]*,)?\s*(\w+)\s*\))")))
    label = m[1];
  if (label == "rooted_service") return service;
  if (label == "service" || label == "job") return KubeService(service);
  if (label == "container") return kContainer;
  if (label == "pod") return PodName(service);
  if (label == "namespace") return "rooted";
  if (variable.value("type", "") == "datasource") return "prometheus";
  const json current = variable.value("current", json::object()).value("value", json());
  if (current.is_string() && !current.get<std::string>().empty()) return current.get<std::string>();
  return std::nullopt;
}

// Every panel query of every dashboard under deploy/k8s, its Grafana
// variables filled in; whether it must find series here (see kExported).
std::vector<PanelQuery> DashboardQueries() {
  std::vector<PanelQuery> queries;
  size_t dashboards = 0;
  for (const auto& entry : fs::recursive_directory_iterator(ROOTED_SOURCE_DIR "/deploy/k8s")) {
    if (entry.path().extension() != ".json" ||
        entry.path().parent_path().filename() != "dashboards")
      continue;
    ++dashboards;
    std::ifstream in(entry.path());
    const json dashboard = json::parse(in, nullptr, /*allow_exceptions=*/false);
    const std::string file = entry.path().filename().string();
    if (dashboard.is_discarded()) {
      ADD_FAILURE() << file << " is not JSON";
      continue;
    }
    // A service's dashboard is named for it; the overview's variables, if it
    // had any, would show the first service.
    std::string service = entry.path().stem().string();
    if (std::find(kServices.begin(), kServices.end(), service) == kServices.end())
      service = kServices[0];
    // Grafana's own interval variables, as for the last hour of a 15 s scrape.
    std::map<std::string, std::string> values = {
        {"__rate_interval", "1m"}, {"__interval", "15s"}, {"__interval_ms", "15000"},
        {"__range", "1h"},         {"__range_s", "3600"}, {"__range_ms", "3600000"}};
    for (const json& variable :
         dashboard.value("templating", json::object()).value("list", json::array())) {
      const std::optional<std::string> value = VariableValue(variable, service);
      if (value) values[variable.value("name", "")] = *value;
    }
    std::vector<json> panels;
    CollectPanels(dashboard.value("panels", json::array()), panels);
    for (const json& row : dashboard.value("rows", json::array()))
      CollectPanels(row.value("panels", json::array()), panels);
    for (const json& panel : panels) {
      for (const json& target : panel.value("targets", json::array())) {
        if (!target.contains("expr")) continue;
        const std::string raw = target["expr"].get<std::string>();
        const std::string where = file + " \"" + panel.value("title", "") + "\"";
        // $var, ${var}, ${var:format}, [[var]].
        static const std::regex kVariable(
            R"(\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+))");
        std::string expr;
        auto last = raw.cbegin();
        for (std::sregex_iterator it(raw.begin(), raw.end(), kVariable), end; it != end; ++it) {
          const std::smatch& m = *it;
          const std::string name = m[1].matched ? m[1] : m[2].matched ? m[2] : m[3];
          expr.append(last, m[0].first);
          if (auto value = values.find(name); value != values.end()) {
            expr += value->second;
          } else {
            ADD_FAILURE() << where << ": no value for $" << name;
            expr += m[0].str();
          }
          last = m[0].second;
        }
        expr.append(last, raw.cend());
        // Kafka's and Redis's exporters are not scraped here (no Kafka
        // Exporter, no redis_exporter): their panels may be empty, but
        // must still parse.
        static const std::regex kExporterMetric(R"(\b(kafka|redis)_\w+)");
        bool needs_series = !std::regex_search(expr, kExporterMetric);
        // Every rooted_ metric must be one exported here, selected only by
        // labels every series of it has: rooted_service and the target's
        // (a selector on service="<name>", the bug this test is for, must
        // fail). code=~"INTERNAL|...", stage="paid" and the like depend on
        // traffic.
        static const std::regex kSelector(R"(\b(rooted_\w+)(\{[^}]*\})?)");
        static const std::regex kMatcher(R"((\w+)\s*(=~|!~|!=|=))");
        size_t metrics = 0;
        for (std::sregex_iterator it(expr.begin(), expr.end(), kSelector), end; it != end; ++it) {
          if ((*it)[1] == "rooted_service") continue;  // the label, in by (...)
          ++metrics;
          if (!kExported.contains((*it)[1])) needs_series = false;
          const std::string matchers = (*it)[2];
          for (std::sregex_iterator m(matchers.begin(), matchers.end(), kMatcher); m != end; ++m) {
            if (!kEveryServiceSeriesHas.contains((*m)[1])) needs_series = false;
          }
        }
        queries.push_back({where, expr, needs_series && metrics > 0});
      }
    }
  }
  EXPECT_GT(dashboards, 0u) << "no deploy/k8s/**/dashboards/*.json";
  return queries;
}

TEST_F(ScrapeTest, EveryDashboardQueryRunsAndThePanelsOnWhatTheServicesExportHaveSeries) {
  const std::vector<PanelQuery> queries = DashboardQueries();
  std::vector<const PanelQuery*> waiting;
  std::set<std::string> dashboards_with_series;
  for (const PanelQuery& q : queries) {
    const json answer = Query(port(), q.expr);
    const bool ran = answer.value("status", "") == "success";
    EXPECT_TRUE(ran) << q.where << ": " << q.expr << "\n" << answer.dump();
    if (ran && q.needs_series) {
      waiting.push_back(&q);
      dashboards_with_series.insert(q.where.substr(0, q.where.find(' ')));
    }
  }
  // In the test's XML report: what was run, and what was held to series.
  RecordProperty("panel_queries", int(queries.size()));
  std::vector<std::string> held;
  for (const PanelQuery* q : waiting) held.push_back(q->where + ": " + q->expr);
  RecordProperty("held_to_series", absl::StrJoin(held, " | "));
  // The per-service dashboards exist and each has panels held to series.
  for (const std::string& s : kServices)
    EXPECT_TRUE(dashboards_with_series.contains(s + ".json")) << s;
  // rate() needs two scrapes, consumer lag the first tick of its timer.
  testing::Eventually(
      [&] {
        std::erase_if(waiting, [&](const PanelQuery* q) {
          return !ResultOf(Query(port(), q->expr)).empty();
        });
        return waiting.empty();
      },
      absl::Seconds(90));
  for (const PanelQuery* q : waiting) ADD_FAILURE() << q->where << " has no series: " << q->expr;
}

}  // namespace
}  // namespace rooted
