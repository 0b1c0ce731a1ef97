#ifndef TRUNKROUTE_TESTS_METRICS_EXPOSITION_MATCHERS_H_
#define TRUNKROUTE_TESTS_METRICS_EXPOSITION_MATCHERS_H_

#include <sstream>
#include <string>
#include <string_view>

namespace trunkroute::metrics::testing {

// The value written for one series (`name{labels}` exactly as exported), or "absent".
inline std::string SeriesValue(const std::string& exposition, std::string_view series) {
  std::istringstream in(exposition);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return line.substr(series.size() + 1);
    }
  }
  return "absent";
}

}  // namespace trunkroute::metrics::testing

#endif  // TRUNKROUTE_TESTS_METRICS_EXPOSITION_MATCHERS_H_
