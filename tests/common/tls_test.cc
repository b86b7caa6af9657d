// Mutual TLS on the gRPC port: certificates made with the openssl command
// line for the test (a CA, a server certificate for localhost, a client
// certificate), and the server started the way every service starts it.

#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/base/config.h"
#include "common/base/log.h"
#include "common/server/service_runtime.h"
#include "common/server/service_settings.h"
#include "rooted/bench/v1/echo.grpc.pb.h"
#include "tests/support/local_stack.h"

namespace rooted {
namespace {

namespace bv1 = rooted::bench::v1;

class EchoService final : public bv1::EchoService::Service {
  grpc::Status Echo(grpc::ServerContext*, const bv1::EchoRequest* request,
                    bv1::EchoResponse* response) override {
    response->set_payload(request->payload());
    return grpc::Status::OK;
  }
};

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(rooted::testing::MakeTempDir());
    const std::string d = *dir_;
    // CA; server certificate for localhost/127.0.0.1; client certificate.
    const std::string script =
        "cd " + d + " && " +
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 1 "
        "-subj /CN=rooted-test-ca >/dev/null 2>&1 && "
        "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr "
        "-subj /CN=localhost >/dev/null 2>&1 && "
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > san.ext && "
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
        "-out server.pem -days 1 -extfile san.ext >/dev/null 2>&1 && "
        "openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr "
        "-subj /CN=partner-system >/dev/null 2>&1 && "
        "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
        "-out client.pem -days 1 >/dev/null 2>&1";
    ASSERT_EQ(std::system(script.c_str()), 0) << "openssl could not make test certificates";
  }
  static void TearDownTestSuite() { delete dir_; }

  std::unique_ptr<GrpcServer> Serve(const TlsSettings& tls) {
    return *GrpcServer::Start({.listen_address = "127.0.0.1:0",
                               .service_names = {},
                               .max_message_bytes = 1 << 20,
                               .tls = tls},
                              {&echo_}, {}, logger_);
  }

  grpc::Status Call(int port, std::shared_ptr<grpc::ChannelCredentials> credentials) {
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    auto stub = bv1::EchoService::NewStub(grpc::CreateCustomChannel(
        "127.0.0.1:" + std::to_string(port), credentials, args));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    bv1::EchoRequest request;
    request.set_payload("hello");
    bv1::EchoResponse response;
    return stub->Echo(&context, request, &response);
  }

  static std::string* dir_;
  EchoService echo_;
  SystemClock clock_;
  std::ostringstream log_;
  Logger logger_{"tls-test", log_, LogLevel::kInfo, clock_};
};

std::string* TlsTest::dir_ = nullptr;

TEST_F(TlsTest, MutualTlsAdmitsOnlyClientsWithACertificateTheCaSigned) {
  const std::string d = *dir_;
  const TlsSettings tls{Read(d + "/server.pem"), Read(d + "/server.key"), Read(d + "/ca.pem")};
  std::unique_ptr<GrpcServer> server = Serve(tls);

  grpc::SslCredentialsOptions with_certificate;
  with_certificate.pem_root_certs = Read(d + "/ca.pem");
  with_certificate.pem_private_key = Read(d + "/client.key");
  with_certificate.pem_cert_chain = Read(d + "/client.pem");
  EXPECT_TRUE(Call(server->port(), grpc::SslCredentials(with_certificate)).ok());

  grpc::SslCredentialsOptions without_certificate;
  without_certificate.pem_root_certs = Read(d + "/ca.pem");
  EXPECT_FALSE(Call(server->port(), grpc::SslCredentials(without_certificate)).ok());
  EXPECT_FALSE(Call(server->port(), grpc::InsecureChannelCredentials()).ok());
  server->Shutdown(absl::ZeroDuration());
}

TEST_F(TlsTest, ServerTlsWithoutClientCertificates) {
  const std::string d = *dir_;
  std::unique_ptr<GrpcServer> server = Serve({Read(d + "/server.pem"), Read(d + "/server.key"), ""});
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = Read(d + "/ca.pem");
  EXPECT_TRUE(Call(server->port(), grpc::SslCredentials(options)).ok());
  server->Shutdown(absl::ZeroDuration());
}

TEST_F(TlsTest, SettingsReadTheFilesAndRefuseHalfAConfiguration) {
  const std::string d = *dir_;
  auto settings = [](std::vector<std::string> flags) {
    flags.push_back("--kafka-bootstrap=127.0.0.1:9092");
    flags.push_back("--token-secret=" + std::string(40, 's'));
    absl::StatusOr<Config> config =
        Config::Parse(flags, [](const std::string&) { return std::optional<std::string>(); });
    EXPECT_TRUE(config.ok());
    return LoadServiceSettings(*config, 50000, 9000);
  };
  absl::StatusOr<ServiceSettings> mtls =
      settings({"--tls-cert-file=" + d + "/server.pem", "--tls-key-file=" + d + "/server.key",
                "--tls-client-ca-file=" + d + "/ca.pem"});
  ASSERT_TRUE(mtls.ok()) << mtls.status();
  EXPECT_TRUE(mtls->tls.enabled());
  EXPECT_FALSE(mtls->tls.client_ca.empty());
  absl::StatusOr<ServiceSettings> half = settings({"--tls-cert-file=" + d + "/server.pem"});
  EXPECT_EQ(half.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(half.status().message()), ::testing::HasSubstr("--tls-key-file"));
  absl::StatusOr<ServiceSettings> missing =
      settings({"--tls-cert-file=" + d + "/nope.pem", "--tls-key-file=" + d + "/server.key"});
  EXPECT_THAT(std::string(missing.status().message()), ::testing::StartsWith("--tls-cert-file:"));
  absl::StatusOr<ServiceSettings> plain = settings({});
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->tls.enabled());
}

}  // namespace
}  // namespace rooted
