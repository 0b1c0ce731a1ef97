// Prints a live scrape of a fully populated trunkroute registry: starts the real HTTP server on
// 127.0.0.1 (port 0), GETs /metrics with an HTTP client and writes the body to stdout. Used by
// promtool_check.sh so that promtool checks exactly what Prometheus would receive.
// Exit status: 0 on success; 1 with a message on stderr otherwise.

#include <httplib.h>

#include <cstdio>
#include <iostream>

#include "http/http_server.h"
#include "metrics/health_metrics_observer.h"
#include "metrics/trunkroute_metrics.h"
#include "tests/metrics/populate_metrics.h"

int main() {
  using namespace trunkroute;
  auto m = metrics::TrunkrouteMetrics::Create("0.1.0-test");
  if (!m.ok()) {
    std::cerr << "metrics: " << m.status() << "\n";
    return 1;
  }
  metrics::HealthMetricsObserver observer(m->get());
  metrics::testing::PopulateEveryFamily(m->get(), &observer, 5);

  http::HttpServerOptions options;
  options.port = 0;
  auto server = http::HttpServer::Start(options, nullptr, m->get());
  if (!server.ok()) {
    std::cerr << "http: " << server.status() << "\n";
    return 1;
  }
  httplib::Client client("127.0.0.1", (*server)->port());
  client.set_read_timeout(5, 0);
  auto res = client.Get("/metrics");
  if (!res) {
    std::cerr << "scrape failed: " << httplib::to_string(res.error()) << "\n";
    return 1;
  }
  if (res->status != 200 ||
      res->get_header_value("Content-Type") != "text/plain; version=0.0.4; charset=utf-8") {
    std::cerr << "scrape answered " << res->status << " with Content-Type '"
              << res->get_header_value("Content-Type") << "'\n";
    return 1;
  }
  std::fwrite(res->body.data(), 1, res->body.size(), stdout);
  return 0;
}
