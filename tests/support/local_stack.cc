#include "tests/support/local_stack.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <librdkafka/rdkafkacpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/kafka/event_consumer.h"

namespace rooted::testing {

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::string& stdout_path) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_ = fork();
  if (pid_ == 0) {
    // Tests block shutdown signals in some threads; the child must not inherit that.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (!stdout_path.empty()) {
      int fd = open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(fd, 1);
      close(fd);
    }
    execvp(args[0], args.data());
    _exit(127);
  }
  if (pid_ < 0) throw std::runtime_error("fork failed");
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) Terminate();
}

int ChildProcess::Terminate(absl::Duration timeout) {
  if (pid_ <= 0) return 0;
  kill(pid_, SIGTERM);
  const absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (absl::Now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

void ChildProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

std::string MakeTempDir() {
  std::string pattern = "/tmp/rooted-test-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return pattern;
}

std::string BinaryDir() {
  const char* dir = std::getenv("ROOTED_BIN_DIR");
  return dir != nullptr ? dir : ROOTED_DEFAULT_BIN_DIR;
}

std::string TestSchoolRegister() {
  static const std::string* path = [] {
    auto* file = new std::string(MakeTempDir() + "/schools.csv");
    std::ofstream out(*file);
    out << "URN,LA (code)\n";
    for (int serial = 1; serial <= 999; ++serial) out << 100000 + serial << ",801\n";
    for (int serial = 1; serial <= 999; ++serial) out << 200000 + serial << ",802\n";
    if (!out.flush()) throw std::runtime_error("cannot write " + *file);
    return file;
  }();
  return *path;
}

ServiceProcess::ServiceProcess(const std::string& binary, const std::vector<std::string>& flags,
                               int grpc_port, int metrics_port)
    : dir_(MakeTempDir()) {
  const std::string port_file = dir_ + "/ports";
  std::vector<std::string> argv = {binary, "--grpc-address=127.0.0.1:" + std::to_string(grpc_port),
                                   "--metrics-address=127.0.0.1:" + std::to_string(metrics_port),
                                   "--port-file=" + port_file};
  argv.insert(argv.end(), flags.begin(), flags.end());
  process_ = std::make_unique<ChildProcess>(argv, "");
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline) {
    std::ifstream in(port_file);
    std::string line;
    while (in && std::getline(in, line)) {
      if (line.rfind("grpc=", 0) == 0) grpc_port_ = std::stoi(line.substr(5));
      if (line.rfind("metrics=", 0) == 0) metrics_port_ = std::stoi(line.substr(8));
    }
    if (grpc_port_ != 0) return;
    int status = 0;
    if (waitpid(process_->pid(), &status, WNOHANG) != 0) {
      throw std::runtime_error(binary + " exited before serving");
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  throw std::runtime_error(binary + " did not serve within 60 s");
}

RedisServer::RedisServer() {
  // A port can be taken between FreePort and bind: try a few.
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = FreePort();
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"redis-server", "--port", std::to_string(port_), "--bind",
                                 "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel",
                                 "warning"},
        "/dev/null");
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      redisContext* c = redisConnect("127.0.0.1", port_);
      const bool up = c != nullptr && c->err == 0;
      if (c != nullptr) redisFree(c);
      if (up) return;
      int status = 0;
      if (waitpid(process_->pid(), &status, WNOHANG) != 0) break;  // exited: port taken
      absl::SleepFor(absl::Milliseconds(20));
    }
  }
  throw std::runtime_error("redis-server did not start");
}

Broker::Broker(int port) : dir_(MakeTempDir()) {
  const std::string file = dir_ + "/bootstrap";
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{BinaryDir() + "/tools/rooted-broker", "--bootstrap-file=" + file,
                               "--port=" + std::to_string(port)},
      "/dev/null");
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (absl::Now() < deadline) {
    std::ifstream in(file);
    if (in && std::getline(in, bootstrap_) && !bootstrap_.empty()) return;
    absl::SleepFor(absl::Milliseconds(20));
  }
  throw std::runtime_error("rooted-broker did not start");
}

std::vector<ReadMessage> ReadTopic(const std::string& bootstrap, const std::string& topic,
                                   size_t expected, absl::Duration timeout,
                                   const std::function<bool(const ReadMessage&)>& match) {
  std::string error;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", bootstrap, error);
  conf->set("group.id", "test-reader", error);
  conf->set("enable.auto.commit", "false", error);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf.get(), error));
  if (!consumer) throw std::runtime_error(error);
  std::unique_ptr<RdKafka::Topic> handle(
      RdKafka::Topic::create(consumer.get(), topic, nullptr, error));
  RdKafka::Metadata* raw = nullptr;
  if (consumer->metadata(false, handle.get(), &raw, 10000) != RdKafka::ERR_NO_ERROR) {
    throw std::runtime_error("no metadata for " + topic);
  }
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  std::vector<RdKafka::TopicPartition*> partitions;
  for (const RdKafka::TopicMetadata* t : *metadata->topics()) {
    for (const RdKafka::PartitionMetadata* p : *t->partitions()) {
      partitions.push_back(
          RdKafka::TopicPartition::create(topic, p->id(), RdKafka::Topic::OFFSET_BEGINNING));
    }
  }
  consumer->assign(partitions);
  RdKafka::TopicPartition::destroy(partitions);
  std::vector<ReadMessage> out;
  const absl::Time deadline = absl::Now() + timeout;
  absl::Time quiet_until = absl::InfiniteFuture();
  if (expected == 0) quiet_until = absl::Now() + absl::Seconds(1);
  while (absl::Now() < std::min(deadline, quiet_until)) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(50));
    if (m->err() != RdKafka::ERR_NO_ERROR) continue;
    ReadMessage read;
    if (m->key() != nullptr) read.key = *m->key();
    read.payload.assign(static_cast<const char*>(m->payload()), m->len());
    read.headers = HeadersOf(*m);
    if (!match(read)) continue;
    out.push_back(std::move(read));
    if (out.size() >= expected && quiet_until == absl::InfiniteFuture()) {
      quiet_until = absl::Now() + absl::Milliseconds(500);
    }
  }
  consumer->close();
  return out;
}

}  // namespace rooted::testing
