#ifndef TRUNKROUTE_CLI_COMMAND_H_
#define TRUNKROUTE_CLI_COMMAND_H_

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/connection.h"

namespace trunkroute::cli {

// What a command handler gets: parsed flags and positionals, the global options, the server
// connection and the two output streams.
struct Command;

struct CommandEnv {
  const Command& command;
  const GlobalOptions& globals;
  Connection& conn;
  const ParsedArgs& args;
  std::ostream& out;
  std::ostream& err;

  // Prints "error: <message>" and a hint to the command's help; returns kExitUsage.
  int Usage(const std::string& message) const;
  // Prints "error: <CODE>: <message>"; returns the matching exit code.
  int Fail(const grpc::Status& status) const { return conn.Fail(status, err); }
};

struct Command {
  std::vector<std::string> words;  // {"trunks", "list"}
  std::string args_usage;          // what follows the words, e.g. "ID" or "-f FILE"
  std::string summary;             // one line for the command list
  std::string details;             // extra paragraphs for `<command> --help`
  std::vector<FlagSpec> flags;     // the command's own flags (global ones are added)
  int min_positional = 0;
  int max_positional = 0;
  std::function<int(CommandEnv&)> run;

  std::string Name() const;  // "trunks list"
};

// Each file contributes its commands to the registry, in the order `--help` lists them.
void AddConfigCommands(std::vector<Command>* commands);  // trunks, routes, config
void AddPolicyCommands(std::vector<Command>* commands);  // policy, route explain|call
void AddHealthCommands(std::vector<Command>* commands);  // health, trunk <state>
void AddAdminCommands(std::vector<Command>* commands);   // log-level, info
void AddClusterCommands(std::vector<Command>* commands);  // cluster status

}  // namespace trunkroute::cli

#endif  // TRUNKROUTE_CLI_COMMAND_H_
