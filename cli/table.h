#ifndef TRUNKROUTE_CLI_TABLE_H_
#define TRUNKROUTE_CLI_TABLE_H_

#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace trunkroute::cli {

// Human output: columns left-aligned and separated by two spaces (like kubectl), header in
// capitals. The last column is not padded so long free text (reasons, descriptions) does not
// leave trailing blanks. Empty cells print as "-" so columns stay countable with awk.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}

  // Missing trailing cells print as "-"; extra cells are an error of the caller and dropped.
  void AddRow(std::vector<std::string> row);
  bool empty() const { return rows_.empty(); }
  void Print(std::ostream& out) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// Two columns of "key  value" lines with no header, for single objects (trunks get, info).
class KeyValueList {
 public:
  void Add(std::string key, std::string value);
  void Print(std::ostream& out) const;

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

}  // namespace trunkroute::cli

#endif  // TRUNKROUTE_CLI_TABLE_H_
