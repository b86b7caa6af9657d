// rooted-access-rules: prints README's table of access rules from the rules
// declared in the protos; --write=README.md puts it between the markers,
// --check=README.md exits 1 when the README's table differs.

#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "tools/access/access_table.h"

namespace {

int Usage(int code) {
  (code == 0 ? std::cout : std::cerr)
      << "usage: rooted-access-rules [--check=README.md | --write=README.md]\n"
         "  Prints the table of every RPC's access rule, made from the protos.\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string table = rooted::AccessRulesMarkdown();
  if (argc == 1) {
    std::cout << table;
    return 0;
  }
  const std::string arg = argv[1];
  if (arg == "--help" || arg == "-h") return Usage(0);
  const bool write = arg.rfind("--write=", 0) == 0;
  const bool check = arg.rfind("--check=", 0) == 0;
  if (argc != 2 || (!write && !check)) return Usage(2);
  const std::string path = arg.substr(arg.find('=') + 1);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string readme = text.str();
  const size_t begin = readme.find(rooted::kTableBegin);
  const size_t end = readme.find(rooted::kTableEnd);
  if (begin == std::string::npos || end == std::string::npos || end < begin) {
    std::cerr << path << ": no access-rules markers\n";
    return 2;
  }
  const size_t from = begin + std::string(rooted::kTableBegin).size() + 1;
  const std::string current = readme.substr(from, end - from);
  if (check) {
    if (current == table) return 0;
    std::cerr << path
              << ": the access rules table is out of date; run rooted-access-rules --write=" << path
              << "\n";
    return 1;
  }
  readme.replace(from, end - from, table);
  std::ofstream(path) << readme;
  return 0;
}
