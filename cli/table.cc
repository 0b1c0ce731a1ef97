#include "cli/table.h"

#include <algorithm>
#include <utility>

namespace trunkroute::cli {

void Table::AddRow(std::vector<std::string> row) {
  row.resize(header_.size());
  for (std::string& cell : row) {
    if (cell.empty()) cell.push_back('-');  // (not = "-": GCC 12 -Wrestrict false positive)
  }
  rows_.push_back(std::move(row));
}

void Table::Print(std::ostream& out) const {
  std::vector<size_t> widths(header_.size());
  for (size_t c = 0; c < header_.size(); ++c) widths[c] = header_[c].size();
  for (const auto& row : rows_) {
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  auto print_row = [&](const std::vector<std::string>& row) {
    for (size_t c = 0; c < row.size(); ++c) {
      out << row[c];
      if (c + 1 < row.size()) out << std::string(widths[c] - row[c].size() + 2, ' ');
    }
    out << '\n';
  };
  print_row(header_);
  for (const auto& row : rows_) print_row(row);
}

void KeyValueList::Add(std::string key, std::string value) {
  items_.emplace_back(std::move(key), value.empty() ? "-" : std::move(value));
}

void KeyValueList::Print(std::ostream& out) const {
  size_t width = 0;
  for (const auto& [key, value] : items_) width = std::max(width, key.size());
  for (const auto& [key, value] : items_) {
    out << key << std::string(width - key.size() + 2, ' ') << value << '\n';
  }
}

}  // namespace trunkroute::cli
