#include "server/admin_service.h"

#include <string>

#include "common/log.h"

namespace trunkroute::server {

grpc::Status AdminServiceImpl::SetLogLevel(grpc::ServerContext* context,
                                           const v1::SetLogLevelRequest* request,
                                           v1::SetLogLevelResponse* response) {
  if (grpc::Status denied = Authorize(auth_, context); !denied.ok()) return denied;
  LogLevel level;
  if (!ParseLogLevel(request->level(), &level)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "level: '" + request->level() +
                            "' is not a log level (expected debug, info, warn or error)");
  }
  const LogLevel previous = GetLogLevel();
  trunkroute::SetLogLevel(level);
  if (request->has_json()) SetLogJson(request->json());
  // Logged at warn so that the change itself is visible whatever the new level is (an
  // operator turning logs down still sees who did it and from what).
  LogWarn("log level changed", {{"from", LogLevelName(previous)},
                                {"to", LogLevelName(level)},
                                {"json", GetLogJson() ? "true" : "false"}});
  ChangeNote note;
  note.target = "log_level";
  note.summary = std::string(LogLevelName(previous)) + " -> " + std::string(LogLevelName(level)) +
                 (GetLogJson() ? " (json)" : "");
  NoteChange(auth_, context, std::move(note));
  response->set_level(std::string(LogLevelName(GetLogLevel())));
  response->set_json(GetLogJson());
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::GetServerInfo(grpc::ServerContext* context,
                                             const v1::GetServerInfoRequest* /*request*/,
                                             v1::GetServerInfoResponse* response) {
  if (grpc::Status denied = Authorize(auth_, context); !denied.ok()) return denied;
  response->set_version(info_.version);
  response->set_log_level(std::string(LogLevelName(GetLogLevel())));
  response->set_log_json(GetLogJson());
  response->set_started_at_unix_ms(info_.started_at_unix_ms);
  response->set_config_version(info_.config_version ? info_.config_version() : 0);
  response->set_grpc_listen(info_.grpc_listen);
  response->set_http_listen(info_.http_listen);
  response->set_sip_listen(info_.sip_listen);
  if (info_.config_status) {
    info_.config_status(response);
  } else {
    response->set_config_source("file");
  }
  return grpc::Status::OK;
}

}  // namespace trunkroute::server
