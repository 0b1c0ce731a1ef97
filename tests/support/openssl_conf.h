#ifndef TRUNKROUTE_TESTS_SUPPORT_OPENSSL_CONF_H_
#define TRUNKROUTE_TESTS_SUPPORT_OPENSSL_CONF_H_

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace trunkroute::testing {

// For a test main(): unless the process already runs with OPENSSL_CONF=`conf`, sets it and
// re-executes the binary (same argv), so that OpenSSL reads `conf` when it first initialises —
// libraries linked into the binary may do that before any test code runs. Returns only when the
// process runs under `conf` (false: the re-exec failed, the test should exit non-zero).
inline bool RunUnderOpenSslConf(const char* conf, char** argv) {
  const char* current = std::getenv("OPENSSL_CONF");
  if (current != nullptr && std::string(current) == conf) return true;
  ::setenv("OPENSSL_CONF", conf, 1);
  ::execv("/proc/self/exe", argv);
  std::perror("re-exec with OPENSSL_CONF");
  return false;
}

}  // namespace trunkroute::testing

#endif  // TRUNKROUTE_TESTS_SUPPORT_OPENSSL_CONF_H_
