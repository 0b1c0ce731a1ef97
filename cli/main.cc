// trunkroutectl: the operator's command line for a trunkroute server (gRPC trunkroute.v1).
// This file parses the global flags, finds the command and runs it; the commands live in
// commands_*.cc.
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/signals.h"
#include "common/token_file.h"

namespace trunkroute::cli {
namespace {

constexpr char kGlobalHelp[] =
    "global flags (before or after the command):\n"
    "  --server ADDR      server address (default 127.0.0.1:50051; env TRUNKROUTE_SERVER)\n"
    "  --json             machine output: the protobuf JSON of the response\n"
    "  --timeout SECONDS  RPC deadline (default 5)\n"
    "  --token-file FILE  bearer token from FILE's first line (env TRUNKROUTE_TOKEN_FILE)\n"
    "  --tls              TLS with the system's trusted CAs (servers run with --api-tls-cert)\n"
    "  --tls-ca FILE      TLS, trusting the CAs in FILE (PEM; env TRUNKROUTE_TLS_CA)\n"
    "  --tls-cert FILE    client certificate for mutual TLS (PEM; env TRUNKROUTE_TLS_CERT)\n"
    "  --tls-key FILE     its private key (PEM; env TRUNKROUTE_TLS_KEY)\n"
    "  --tls-server-name NAME  name the server certificate must carry, when --server is an\n"
    "                     address it does not name (env TRUNKROUTE_TLS_SERVER_NAME)\n"
    "  -h, --help         help; 'trunkroutectl COMMAND --help' for one command\n"
    "  --version          print trunkroutectl's version and exit\n";

constexpr char kEnvAndExitHelp[] =
    "environment:\n"
    "  TRUNKROUTE_SERVER  default for --server\n"
    "  TRUNKROUTE_TOKEN   bearer token, sent as 'authorization: Bearer <token>' metadata\n"
    "                     (never printed); a token with too few scopes gets PERMISSION_DENIED\n"
    "                     naming the scope needed\n"
    "  TRUNKROUTE_TOKEN_FILE\n"
    "                     file holding the token, read when neither --token-file nor\n"
    "                     TRUNKROUTE_TOKEN is given (set in the Kubernetes manifest, so that\n"
    "                     'kubectl exec ... trunkroutectl' finds the mounted token)\n"
    "  TRUNKROUTE_TLS_CA, TRUNKROUTE_TLS_CERT, TRUNKROUTE_TLS_KEY, TRUNKROUTE_TLS_SERVER_NAME\n"
    "                     defaults for the --tls-* flags\n"
    "\n"
    "exit codes:\n"
    "  0  ok\n"
    "  1  the server answered with an error (printed as 'error: CODE: message' on stderr)\n"
    "  2  usage error: bad command line or input file\n"
    "  3  server unreachable or deadline exceeded\n"
    "  4  not found (NOT_FOUND)\n"
    "  5  conflict: ABORTED (config version changed) or FAILED_PRECONDITION (e.g. a trunk\n"
    "     still used by a route)\n";

std::vector<Command> AllCommands() {
  std::vector<Command> commands;
  AddConfigCommands(&commands);
  AddPolicyCommands(&commands);
  AddHealthCommands(&commands);
  AddAdminCommands(&commands);
  AddClusterCommands(&commands);
  return commands;
}

std::string UsageLine(const Command& c) {
  std::string line = c.Name();
  if (!c.args_usage.empty()) line += " " + c.args_usage;
  return line;
}

// Lists `commands` (all, or one group's) with their summaries.
void PrintCommandList(std::ostream& out, const std::vector<const Command*>& commands) {
  size_t width = 0;
  for (const Command* c : commands) width = std::max(width, UsageLine(*c).size());
  width = std::min<size_t>(width, 48);
  for (const Command* c : commands) {
    std::string usage = UsageLine(*c);
    out << "  " << usage;
    if (usage.size() > width) {
      out << "\n  " << std::string(width, ' ');
    } else {
      out << std::string(width - usage.size(), ' ');
    }
    out << "  " << c->summary << '\n';
  }
}

void PrintTopHelp(std::ostream& out, const std::vector<Command>& commands) {
  out << "trunkroutectl: operate a trunkroute server over gRPC\n\n"
         "usage: trunkroutectl [global flags] COMMAND [arguments] [flags]\n\ncommands:\n";
  std::vector<const Command*> all;
  for (const Command& c : commands) all.push_back(&c);
  PrintCommandList(out, all);
  out << '\n' << kGlobalHelp << '\n' << kEnvAndExitHelp;
}

void PrintGroupHelp(std::ostream& out, const std::vector<Command>& commands,
                    const std::string& group) {
  out << "usage: trunkroutectl " << group << " SUBCOMMAND ...\n\nsubcommands:\n";
  std::vector<const Command*> members;
  for (const Command& c : commands) {
    if (c.words.size() > 1 && c.words[0] == group) members.push_back(&c);
  }
  PrintCommandList(out, members);
  out << "\nrun 'trunkroutectl " << group << " SUBCOMMAND --help' for details\n";
}

void PrintCommandHelp(std::ostream& out, const Command& c) {
  out << "usage: trunkroutectl " << UsageLine(c) << "\n\n" << c.summary << '\n';
  if (!c.details.empty()) out << '\n' << c.details << '\n';
  out << '\n' << kGlobalHelp << "\nexit codes: see 'trunkroutectl --help'\n";
}

bool IsGroup(const std::vector<Command>& commands, const std::string& word) {
  for (const Command& c : commands) {
    if (c.words.size() > 1 && c.words[0] == word) return true;
  }
  return false;
}

// The command whose words are the longest prefix of `words` starting at `pos`.
const Command* FindCommand(const std::vector<Command>& commands,
                           const std::vector<std::string>& words, size_t pos) {
  const Command* best = nullptr;
  for (const Command& c : commands) {
    if (pos + c.words.size() > words.size()) continue;
    bool match = true;
    for (size_t k = 0; k < c.words.size() && match; ++k) match = words[pos + k] == c.words[k];
    if (match && (best == nullptr || c.words.size() > best->words.size())) best = &c;
  }
  return best;
}

std::optional<std::string> ParseTimeout(const std::string& text, double* out) {
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(value) || value <= 0 || value > 86400) {
    return "--timeout: '" + text + "' is not a number of seconds in (0, 86400]";
  }
  *out = value;
  return std::nullopt;
}

// Applies a parsed global flag; returns an error message when its value is bad.
std::optional<std::string> ApplyGlobal(const std::string& name, const std::string& value,
                                       GlobalOptions* globals, std::string* token_file) {
  if (name == "token-file") {
    if (value.empty()) return "--token-file: empty path";
    *token_file = value;
  } else if (name == "server") {
    if (value.empty()) return "--server: empty address";
    globals->server = value;
  } else if (name == "json") {
    globals->json = true;
  } else if (name == "timeout") {
    globals->timeout_given = true;
    return ParseTimeout(value, &globals->timeout_s);
  } else if (name == "tls") {
    globals->tls = true;
  } else if (name == "tls-ca" || name == "tls-cert" || name == "tls-key") {
    if (value.empty()) return "--" + name + ": empty file name";
    (name == "tls-ca"     ? globals->tls_ca_file
     : name == "tls-cert" ? globals->tls_cert_file
                          : globals->tls_key_file) = value;
  } else if (name == "tls-server-name") {
    if (value.empty()) return "--tls-server-name: empty name";
    globals->tls_server_name = value;
  }
  return std::nullopt;
}

// Reads the --tls-* files into `globals`; an error names the flag and the file.
std::optional<std::string> LoadTlsFiles(GlobalOptions* globals) {
  auto read = [](const std::string& flag, const std::string& path,
                 std::string* out) -> std::optional<std::string> {
    if (path.empty()) return std::nullopt;
    std::ifstream in(path, std::ios::binary);
    if (!in) return "--" + flag + " " + path + ": " + std::strerror(errno);
    std::stringstream text;
    text << in.rdbuf();
    *out = text.str();
    if (out->find("-----BEGIN") == std::string::npos) {
      return "--" + flag + " " + path + ": not a PEM file";
    }
    return std::nullopt;
  };
  if (globals->tls_cert_file.empty() != globals->tls_key_file.empty()) {
    return "--tls-cert and --tls-key go together: give both";
  }
  if (auto err = read("tls-ca", globals->tls_ca_file, &globals->tls_ca_pem)) return err;
  if (auto err = read("tls-cert", globals->tls_cert_file, &globals->tls_cert_pem)) return err;
  if (auto err = read("tls-key", globals->tls_key_file, &globals->tls_key_pem)) return err;
  if (!globals->tls_ca_file.empty() || !globals->tls_cert_file.empty()) globals->tls = true;
  if (!globals->tls_server_name.empty() && !globals->tls) {
    return "--tls-server-name needs TLS (--tls or --tls-ca)";
  }
  return std::nullopt;
}

// A token goes into an HTTP/2 header: visible ASCII only. The error never echoes the token.
bool TokenIsValid(const std::string& token) {
  for (unsigned char c : token) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

int UsageError(const std::string& message, const std::string& hint_command = "") {
  std::cerr << "error: " << message << "\nrun 'trunkroutectl "
            << (hint_command.empty() ? "" : hint_command + " ") << "--help' for usage\n";
  return kExitUsage;
}

int Main(int argc, char** argv) {
  StartSignalThread();
  const std::vector<Command> commands = AllCommands();
  const std::vector<std::string> words(argv + 1, argv + argc);

  GlobalOptions globals;
  if (const char* env = std::getenv("TRUNKROUTE_SERVER"); env != nullptr && *env != '\0') {
    globals.server = env;
  }
  const char* env_token = std::getenv("TRUNKROUTE_TOKEN");
  // Where the token comes from, first found wins: --token-file, TRUNKROUTE_TOKEN,
  // TRUNKROUTE_TOKEN_FILE.
  std::string token_file;
  if (const char* env = std::getenv("TRUNKROUTE_TLS_CA"); env != nullptr) globals.tls_ca_file = env;
  if (const char* env = std::getenv("TRUNKROUTE_TLS_CERT"); env != nullptr) {
    globals.tls_cert_file = env;
  }
  if (const char* env = std::getenv("TRUNKROUTE_TLS_KEY"); env != nullptr) {
    globals.tls_key_file = env;
  }
  if (const char* env = std::getenv("TRUNKROUTE_TLS_SERVER_NAME"); env != nullptr) {
    globals.tls_server_name = env;
  }

  const std::vector<FlagSpec> global_specs = {
      {"server"},           {"json", false},    {"timeout"},        {"token-file"},
      {"help", false, 'h'}, {"version", false}, {"tls", false},     {"tls-ca"},
      {"tls-cert"},         {"tls-key"},        {"tls-server-name"}};

  // Global flags before the command.
  size_t pos = 0;
  bool help = false;
  bool version = false;
  while (pos < words.size() && !words[pos].empty() && words[pos][0] == '-') {
    std::vector<std::string> one = {words[pos]};
    // A value flag takes the next word too.
    const std::string& w = words[pos];
    if ((w == "--server" || w == "--timeout" || w == "--token-file" || w == "--tls-ca" ||
         w == "--tls-cert" || w == "--tls-key" || w == "--tls-server-name") &&
        pos + 1 < words.size()) {
      one.push_back(words[pos + 1]);
    }
    ParsedArgs parsed;
    if (auto err = ParseArgs(one, global_specs, &parsed)) return UsageError(*err);
    pos += one.size();
    for (const auto& [name, value] : parsed.flags) {
      if (name == "help") help = true;
      if (name == "version") version = true;
      if (auto err = ApplyGlobal(name, value, &globals, &token_file)) return UsageError(*err);
    }
  }

  if (version) {
    std::cout << "trunkroutectl " << TRUNKROUTE_VERSION << '\n';
    return kExitOk;
  }
  if (pos >= words.size()) {
    PrintTopHelp(help ? std::cout : std::cerr, commands);
    return help ? kExitOk : kExitUsage;
  }
  const Command* command = FindCommand(commands, words, pos);
  if (command == nullptr) {
    const std::string& first = words[pos];
    if (!IsGroup(commands, first)) return UsageError("unknown command '" + first + "'");
    const bool group_help =
        help || (pos + 1 < words.size() && (words[pos + 1] == "--help" || words[pos + 1] == "-h"));
    if (group_help) {
      PrintGroupHelp(std::cout, commands, first);
      return kExitOk;
    }
    if (pos + 1 < words.size()) {
      std::cerr << "error: unknown command '" << first << " " << words[pos + 1] << "'\n";
    } else {
      std::cerr << "error: '" << first << "' needs a subcommand\n";
    }
    PrintGroupHelp(std::cerr, commands, first);
    return kExitUsage;
  }

  // The command's own flags win over global ones of the same name (log-level --json on|off).
  std::vector<FlagSpec> specs = command->flags;
  for (const FlagSpec& g : global_specs) {
    bool shadowed = false;
    for (const FlagSpec& f : command->flags) shadowed = shadowed || f.name == g.name;
    if (!shadowed) specs.push_back(g);
  }
  ParsedArgs args;
  const std::vector<std::string> rest(words.begin() + pos + command->words.size(), words.end());
  if (auto err = ParseArgs(rest, specs, &args)) return UsageError(*err, command->Name());
  if (help || args.Has("help")) {
    PrintCommandHelp(std::cout, *command);
    return kExitOk;
  }
  if (args.Has("version")) {
    std::cout << "trunkroutectl " << TRUNKROUTE_VERSION << '\n';
    return kExitOk;
  }
  for (const FlagSpec& g : global_specs) {
    bool shadowed = false;
    for (const FlagSpec& f : command->flags) shadowed = shadowed || f.name == g.name;
    if (shadowed) continue;
    if (auto value = args.Get(g.name)) {
      if (auto err = ApplyGlobal(g.name, *value, &globals, &token_file)) {
        return UsageError(*err, command->Name());
      }
    }
  }
  const int n = static_cast<int>(args.positional.size());
  if (n < command->min_positional || n > command->max_positional) {
    std::string expected = command->args_usage.empty() ? "no arguments" : command->args_usage;
    if (n > command->max_positional) {
      return UsageError("unexpected argument '" + args.positional[command->max_positional] +
                            "' (usage: " + UsageLine(*command) + ")",
                        command->Name());
    }
    return UsageError("missing argument (usage: " + UsageLine(*command) + ")", command->Name());
  }
  std::string token_source = "TRUNKROUTE_TOKEN";
  if (token_file.empty() && env_token == nullptr) {
    if (const char* env = std::getenv("TRUNKROUTE_TOKEN_FILE"); env != nullptr && *env != '\0') {
      token_file = env;
      token_source = "TRUNKROUTE_TOKEN_FILE";
    }
  } else if (!token_file.empty()) {
    token_source = "--token-file";
  }
  if (!token_file.empty()) {
    absl::StatusOr<std::string> token = ReadTokenFile(token_file);
    if (!token.ok()) {
      return UsageError(token_source + " " + std::string(token.status().message()));
    }
    globals.token = *std::move(token);
  } else if (env_token != nullptr) {
    globals.token = env_token;
  }
  if (!TokenIsValid(globals.token)) {
    return UsageError("the token from " + token_source +
                      " contains characters not allowed in a header "
                      "(spaces, control or non-ASCII characters)");
  }

  if (auto err = LoadTlsFiles(&globals)) return UsageError(*err);

  Connection conn(globals);
  CommandEnv env{*command, globals, conn, args, std::cout, std::cerr};
  const int code = command->run(env);
  std::cout.flush();
  return code;
}

}  // namespace
}  // namespace trunkroute::cli

int main(int argc, char** argv) { return trunkroute::cli::Main(argc, argv); }
